// Package quality judges documents of a Korean and English pretraining
// corpus with the heuristic filters of Gopher, C4 and FineWeb, and with
// Korean-aware variants of them.
//
// The rule families and their reference values follow the published
// descriptions: Gopher's quality and repetition heuristics (Rae et al. 2021,
// "Scaling Language Models", appendix A), C4's cleaning (Raffel et al. 2020,
// section 2.2) and FineWeb's added filters (Penedo et al. 2024), as Hugging
// Face's datatrove implements them in GopherQualityFilter,
// GopherRepetitionFilter, C4QualityFilter and FineWebQualityFilter. Those
// are tuned for English (English stop words, NLTK word tokens); here every
// threshold is a field of Rules, set per language, and DefaultRules("ko")
// adapts the ones that depend on how Korean is written. Each field's doc
// comment gives its reference value and, where Korean differs, why.
//
// Differences from datatrove that apply to every language:
//
//   - Words are whitespace tokens with surrounding punctuation stripped
//     (NLTK splits punctuation off as tokens of its own); for Korean a word
//     is an eojeol (어절).
//   - Fractions of lines ignore blank lines; trailing white space does not
//     hide a line's final punctuation.
//   - The duplicate n-gram fraction counts every occurrence of a repeated
//     n-gram (Gopher's wording), not only the second and later ones, and
//     the most frequent n-gram counts only if it occurs more than once.
//   - C4's "lorem ipsum" and "{" rules look at the whole page, as the C4
//     paper describes, and a line whose final punctuation is followed by a
//     closing quote or bracket is terminated.
//   - FineWeb's rules see the lines C4 keeps before its terminal-punctuation
//     test, as in FineWeb's own pipeline, which ran C4 with that test off.
//
// Default thresholds (en / ko / other languages; "-" is off):
//
//	gopher.min_words                    50 / 30 / 50
//	gopher.max_words                    100000 (all)
//	gopher.min_mean_word_len            3 / 1.5 / 3
//	gopher.max_mean_word_len            10 / 12 / 10
//	gopher.max_symbol_word_ratio        0.1 (all)
//	gopher.max_bullet_lines             0.9 (all)
//	gopher.max_ellipsis_lines           0.3 (all)
//	gopher.min_alpha_words              0.8 (all)
//	gopher.min_stop_words               2 / - / -
//	gopher_rep.max_dup_line_frac        0.3, max_dup_line_char_frac 0.2 (all)
//	gopher_rep.max_dup_para_frac        0.3, max_dup_para_char_frac 0.2 (all)
//	gopher_rep.max_top_{2,3,4}gram_frac 0.20, 0.18, 0.16 (all)
//	gopher_rep.max_dup_{5..10}gram_frac 0.15, 0.14, 0.13, 0.12, 0.11, 0.10 (all)
//	c4.terminal_punct                   on (all); ko also accepts 다 요 죠 까 니다 and "…"
//	c4.min_words_per_line               3 / 2 / 3
//	c4.max_word_len                     1000 (all)
//	c4.javascript_words, policy_phrases C4's (all); ko adds Korean ones
//	c4.lorem_ipsum                      on (all)
//	c4.curly_bracket                    on / - / -
//	c4.min_sentences                    5 (all)
//	fineweb.min_line_punct_ratio        0.12 (all)
//	fineweb.max_short_line_ratio        0.67 (all), short_line_chars 30 / 15 / 30
//	fineweb.max_char_dup_ratio          0.01 (all)
//	fineweb.max_newline_word_ratio      0.3 / 0.5 / 0.3
//	korean.min_hangul_ratio             - / 0.5 / -
//	korean.min_particle_words           - / 2 / -
//	korean.max_jamo_ratio               - / 0.3 / -
//	korean.run_min_len, max_run_char_ratio  - / 4, 0.1 / -
//
// Check runs in time linear in the document (the n-gram rules hash each
// word once and then only extend n-grams that already repeat) and keeps no
// state between calls.
package quality
