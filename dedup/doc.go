// Package dedup finds exact and near-duplicate documents in a corpus for
// pretraining, Korean and English text first.
//
// The work is split so that it shards: the expensive part is pure and
// per document, the global part works on compact keys.
//
//  1. Per document, anywhere, in any order, on any number of cores or
//     Beam workers: ExactKey(Normalize(text)) for exact copies, and for
//     near copies MinHasher.Signature then MinHasher.Bands. A MinHasher is
//     safe for concurrent use.
//  2. Globally: each document's number (its position in the corpus) and
//     band keys (and signature, when candidates are verified) go into one
//     Index; Resolve returns the Clusters, and Clusters.Drop says which
//     documents to leave out: every member of a cluster of near-duplicates
//     but the one with the smallest number. Resolve's answer does not
//     depend on the order of the Adds.
//
// Fuzzy matching is MinHash with locality-sensitive hashing (Broder 1997;
// Leskovec, Rajaraman and Ullman, Mining of Massive Datasets, ch. 3), as
// in datatrove and text-dedup: a document is the set of its shingles
// (n-grams of characters or words of its normalized text); the signature
// holds, for each of Hashes hash functions, the smallest hash over the
// set, so two signatures agree at a position with probability equal to
// the Jaccard similarity of the sets; the signature is cut into Bands
// bands of Rows values, and documents that agree on a whole band become
// candidates. Options.Threshold adds a check of the candidates'
// estimated similarity before they are joined. DefaultOptions documents
// the defaults and the measurements behind them.
//
// Empty documents (nothing left after Normalize) have the empty signature
// and never match anything fuzzily; ExactKey still groups them.
package dedup
