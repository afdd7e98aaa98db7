// Package mapfile maps files read-only into memory, for the readers of
// large untrusted files (safetensors, GGUF, token shards): the operating
// system pages weights and tokens in as they are touched, and several
// processes share one copy. Callers fall back to reading the file where
// mapping is not supported.
package mapfile
