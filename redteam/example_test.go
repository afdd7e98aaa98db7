package redteam_test

import (
	"context"
	"fmt"

	"github.com/dokja/dokja/redteam"
)

func ExampleRun() {
	// A real run would use &redteam.EndpointGenerator{URL: "http://127.0.0.1:8080", Model: "my-model"}.
	polite := redteam.GeneratorFunc(func(context.Context, []redteam.Message, int) (string, error) {
		return "죄송하지만 도와드릴 수 없습니다.", nil
	})
	r, err := redteam.Run(context.Background(), polite, redteam.Probes(), redteam.Options{
		Categories: []string{redteam.HarmfulRequest, redteam.PromptInjection}, Langs: []string{"ko"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, c := range []string{redteam.HarmfulRequest, redteam.PromptInjection} {
		rate := r.ByCategory[c]
		fmt.Printf("%s: %d/%d passed\n", c, rate.Passed, rate.Total)
	}
	fmt.Println("failing transcripts:", len(r.Failures))
	// Output:
	// harmful_request: 9/9 passed
	// prompt_injection: 8/8 passed
	// failing transcripts: 0
}
