module github.com/dokja/dokja

go 1.26.8

require (
	github.com/dlclark/regexp2/v2 v2.5.1
	github.com/klauspost/compress v1.20.4
	github.com/tiktoken-go/tokenizer v0.10.0
	golang.org/x/term v0.48.0
	golang.org/x/text v0.44.0
)

require (
	golang.org/x/net v0.62.0 // indirect
	golang.org/x/sys v0.50.0 // indirect
)
