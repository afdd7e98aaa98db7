package eval

import (
	"fmt"
	"strconv"
	"strings"
)

// The KoBEST tasks (Kim et al., 2022) with the prompts of
// lm-evaluation-harness's lm_eval/tasks/kobest (kobest_*.yaml and
// utils.py), re-expressed over the columns of the KoBEST v1.0 TSV files
// (github.com/SKT-LSL/KoBEST_datarepo) rather than the Hugging Face
// dataset skt/kobest_v1 the harness loads; the mapping of columns is
// noted at each task. Choices are scored as " " + choice after the text.

var (
	yesNo      = []string{"아니오", "예"}
	negPos     = []string{"부정", "긍정"}
	falseTrue  = []string{"False", "True"}
	copaCauses = map[string]string{"원인": " 왜냐하면", "결과": " 그래서"}
)

func kobestTask(name, desc, dir string, cols []string, id string, text func(Row) (string, error),
	choice func(Row) ([]string, error), target func(Row) (int, error)) *Task {
	return &Task{Name: name, Description: desc, OutputType: MultipleChoice, Dir: dir, Columns: cols, IDColumn: id,
		DocToText: text, DocToChoice: choice, DocToTarget: target,
		TargetDelimiter: " ", FewshotDelimiter: "\n\n",
		Metrics: []string{MetricAcc, MetricF1}}
}

func fixed(c []string) func(Row) ([]string, error) {
	return func(Row) ([]string, error) { return c, nil }
}

func kobestTasks() []*Task {
	// BoolQ: columns ID, Text (the harness's paragraph), Question, Answer
	// (False/True, the harness's label 0/1).
	// doc_to_text: "{{paragraph}} 질문: {{question}} 답변: "; choices 아니오, 예.
	boolq := kobestTask("kobest_boolq", "KoBEST BoolQ: yes/no questions about a paragraph", "BoolQ",
		[]string{"ID", "Text", "Question", "Answer"}, "ID",
		func(r Row) (string, error) {
			p, err := field(r, "Text")
			if err != nil {
				return "", err
			}
			q, err := field(r, "Question")
			if err != nil {
				return "", err
			}
			return p + " 질문: " + q + " 답변: ", nil
		}, fixed(yesNo),
		func(r Row) (int, error) { return label(r, "Answer", falseTrue...) })

	// COPA: columns ID, sentence (premise), question (원인/결과), 1 and 2
	// (alternative_1/2), Answer (1/2; the harness's label 0/1).
	// doc_to_text: premise + " " + connector, the connector itself starting
	// with a space (" 왜냐하면" for a cause, " 그래서" for an effect), so the
	// text has two spaces before it, as in the harness's utils.py.
	copa := kobestTask("kobest_copa", "KoBEST COPA: the more plausible cause or effect of a premise", "COPA",
		[]string{"ID", "sentence", "question", "1", "2", "Answer"}, "ID",
		func(r Row) (string, error) {
			p, err := field(r, "sentence")
			if err != nil {
				return "", err
			}
			q, err := field(r, "question")
			if err != nil {
				return "", err
			}
			c, ok := copaCauses[strings.TrimSpace(q)]
			if !ok {
				return "", &FieldError{File: r.File, Line: r.Line, Field: "question", Err: fmt.Errorf("%q is neither 원인 nor 결과", q)}
			}
			return p + " " + c, nil
		},
		func(r Row) ([]string, error) {
			a, err := field(r, "1")
			if err != nil {
				return nil, err
			}
			b, err := field(r, "2")
			if err != nil {
				return nil, err
			}
			return []string{a, b}, nil
		},
		func(r Row) (int, error) { return label(r, "Answer", "1", "2") })

	// WiC: columns ID, Target (word), SENTENCE1 and SENTENCE2 (context_1/2;
	// the TSV marks the word with brackets), ANSWER (False/True).
	// doc_to_text: "문장1: {c1} 문장2: {c2} 두 문장에서 {word}가 같은 뜻으로 쓰였나?";
	// choices 아니오, 예.
	wic := kobestTask("kobest_wic", "KoBEST WiC: is a word used in the same sense in two sentences", "WiC",
		[]string{"ID", "Target", "SENTENCE1", "SENTENCE2", "ANSWER"}, "ID",
		func(r Row) (string, error) {
			w, err := field(r, "Target")
			if err != nil {
				return "", err
			}
			a, err := field(r, "SENTENCE1")
			if err != nil {
				return "", err
			}
			b, err := field(r, "SENTENCE2")
			if err != nil {
				return "", err
			}
			return "문장1: " + a + " 문장2: " + b + " 두 문장에서 " + w + "가 같은 뜻으로 쓰였나?", nil
		}, fixed(yesNo),
		func(r Row) (int, error) { return label(r, "ANSWER", falseTrue...) })

	// HellaSwag: columns context, choice1-4 (ending_1-4), label (0-based).
	// No id column: items are numbered by row. doc_to_text: "문장: {context}";
	// the choices are the four endings; acc_norm as well.
	hella := kobestTask("kobest_hellaswag", "KoBEST HellaSwag: the most plausible continuation of a story", "HellaSwag",
		[]string{"context", "choice1", "choice2", "choice3", "choice4", "label"}, "",
		func(r Row) (string, error) {
			c, err := field(r, "context")
			if err != nil {
				return "", err
			}
			return "문장: " + c, nil
		},
		func(r Row) ([]string, error) {
			out := make([]string, 4)
			for i := range out {
				v, err := field(r, "choice"+strconv.Itoa(i+1))
				if err != nil {
					return nil, err
				}
				out[i] = v
			}
			return out, nil
		},
		func(r Row) (int, error) { return label(r, "label", "0", "1", "2", "3") })
	hella.Metrics = []string{MetricAcc, MetricAccNorm, MetricF1}

	// SentiNeg: columns ID, Label (0 negative, 1 positive), Text (sentence).
	// doc_to_text: "문장: {sentence} 긍부정:"; choices 부정, 긍정.
	senti := kobestTask("kobest_sentineg", "KoBEST SentiNeg: sentiment of sentences with negation", "SentiNeg",
		[]string{"ID", "Label", "Text"}, "ID",
		func(r Row) (string, error) {
			s, err := field(r, "Text")
			if err != nil {
				return "", err
			}
			return "문장: " + s + " 긍부정:", nil
		}, fixed(negPos),
		func(r Row) (int, error) { return label(r, "Label", "0", "1") })

	return []*Task{boolq, copa, wic, hella, senti}
}
