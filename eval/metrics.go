package eval

import (
	"math"
	"math/rand/v2"
	"slices"
	"unicode/utf8"
)

// Accuracy is the fraction of predictions equal to their gold labels,
// with the harness's standard error of a mean (sample standard deviation
// over the square root of n).
func Accuracy(gold, pred []int) (acc, stderr float64) {
	x := make([]float64, len(gold))
	for i := range gold {
		if gold[i] == pred[i] {
			x[i] = 1
		}
	}
	return meanStderr(x)
}

func meanStderr(x []float64) (mean, stderr float64) {
	n := float64(len(x))
	if n == 0 {
		return math.NaN(), math.NaN()
	}
	for _, v := range x {
		mean += v
	}
	mean /= n
	if n < 2 {
		return mean, math.NaN()
	}
	var ss float64
	for _, v := range x {
		ss += (v - mean) * (v - mean)
	}
	return mean, math.Sqrt(ss/(n-1)) / math.Sqrt(n)
}

// MacroF1 is scikit-learn's f1_score(gold, pred, average="macro"), which
// the harness's KoBEST tasks report: the unweighted mean of each label's
// F1 over the labels that occur in gold or pred, a label never predicted
// or never gold scoring 0.
func MacroF1(gold, pred []int) float64 {
	labels := map[int]bool{}
	for i := range gold {
		labels[gold[i]], labels[pred[i]] = true, true
	}
	if len(labels) == 0 {
		return math.NaN()
	}
	var sum float64
	for l := range labels {
		var tp, fp, fn float64
		for i := range gold {
			switch {
			case gold[i] == l && pred[i] == l:
				tp++
			case pred[i] == l:
				fp++
			case gold[i] == l:
				fn++
			}
		}
		if tp > 0 {
			sum += 2 * tp / (2*tp + fp + fn)
		}
	}
	return sum / float64(len(labels))
}

// bootstrapF1 is the standard deviation of macro F1 over resamples of the
// items (seeded, so reports are reproducible). The harness reports no
// standard error for KoBEST's F1; this one is Dokja's.
func bootstrapF1(gold, pred []int, iters int, seed uint64) float64 {
	n := len(gold)
	if n < 2 {
		return math.NaN()
	}
	rng := rand.New(rand.NewPCG(seed, 0x6b6f62657374))
	g, p := make([]int, n), make([]int, n)
	vals := make([]float64, iters)
	for it := range vals {
		for i := range n {
			j := rng.IntN(n)
			g[i], p[i] = gold[j], pred[j]
		}
		vals[it] = MacroF1(g, p)
	}
	_, se := meanStderr(vals)
	return se * math.Sqrt(float64(iters)) // the sample standard deviation
}

// chanceF1 is the expected macro F1 of guessing uniformly among k choices:
// for a label of prevalence p, precision p and recall 1/k.
func chanceF1(gold []int, k int) float64 {
	if len(gold) == 0 || k == 0 {
		return math.NaN()
	}
	counts := make([]float64, k)
	for _, g := range gold {
		counts[g]++
	}
	var sum float64
	q := 1 / float64(k)
	for _, c := range counts {
		// A label absent from gold is still guessed, so it counts, with F1 0.
		if c > 0 {
			p := c / float64(len(gold))
			sum += 2 * p * q / (p + q)
		}
	}
	return sum / float64(k)
}

// majority returns the accuracy and macro F1 of always predicting the
// most frequent gold label.
func majority(gold []int) (acc, f1 float64) {
	counts := map[int]int{}
	best := 0
	for _, g := range gold {
		counts[g]++
		if counts[g] > counts[best] || (counts[g] == counts[best] && g < best) {
			best = g
		}
	}
	pred := slices.Repeat([]int{best}, len(gold))
	acc, _ = Accuracy(gold, pred)
	return acc, MacroF1(gold, pred)
}

// argmax returns the index of the largest value (the first on ties, as
// numpy's argmax).
func argmax(v []float64) int {
	best := 0
	for i := range v {
		if v[i] > v[best] {
			best = i
		}
	}
	return best
}

// normalized divides each choice's log-likelihood by its length in
// characters, as the harness's acc_norm does (len() of the Python
// string: code points, the target delimiter not counted).
func normalized(lls []float64, choices []string) []float64 {
	out := make([]float64, len(lls))
	for i := range lls {
		out[i] = lls[i] / float64(utf8.RuneCountInString(choices[i]))
	}
	return out
}
