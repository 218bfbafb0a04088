package report

import (
	"iter"
	"math"
	"math/bits"
	"slices"
	"time"
)

// nearestRank returns the 1-based nearest rank of percentile p (0..100) in
// n sorted values: ceil(p/100*n), at least 1 and at most n. n must be > 0.
func nearestRank(p float64, n int) int {
	if !(p > 0) { // also catches NaN
		return 1
	}
	if p >= 100 {
		return n
	}
	r := int(math.Ceil(p / 100 * float64(n)))
	// Guard against floating-point error such as 0.9*10 = 9.000000000000002.
	if r > 1 && float64(r-1) >= p/100*float64(n)-1e-9 {
		r--
	}
	return min(max(r, 1), n)
}

// Percentile returns the nearest-rank p-th percentile (0..100) of sorted,
// which must be in ascending order. It returns 0 for an empty slice.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[nearestRank(p, len(sorted))-1]
}

// stats are the exact statistics of a stream of non-negative values
// (nanoseconds).
type stats struct {
	n        int
	sum      float64
	min, max int64
	q        []int64 // one per requested percentile
}

// Histogram layout used by exactQuantiles: values below 256 get one bucket
// each; larger values are bucketed by their top 8 significant bits, which
// keeps every bucket within 1/128 of its value. The histogram only locates
// the bucket holding each requested rank; the exact value is then found by
// collecting that bucket's values in a second pass.
const (
	linearBuckets = 256
	subBuckets    = 128
	numBuckets    = linearBuckets + (64-8)*subBuckets
)

func bucketOf(v int64) int {
	u := uint64(v)
	if u < linearBuckets {
		return int(u)
	}
	e := bits.Len64(u) - 8 // >= 1
	return linearBuckets + (e-1)*subBuckets + int(u>>uint(e)) - subBuckets
}

// exactQuantiles computes count, sum, min, max and the exact nearest-rank
// percentiles ps of the values produced by seq, which is iterated at most
// twice and must yield the same values both times. Negative values are
// treated as 0. Memory use is independent of the number of values except
// for the values sharing a bucket with a requested rank.
func exactQuantiles(seq iter.Seq[int64], ps ...float64) stats {
	st := stats{min: math.MaxInt64, q: make([]int64, len(ps))}
	hist := make([]int, numBuckets)
	for v := range seq {
		v = max(v, 0)
		st.n++
		st.sum += float64(v)
		st.min = min(st.min, v)
		st.max = max(st.max, v)
		hist[bucketOf(v)]++
	}
	if st.n == 0 {
		st.min = 0
		return st
	}
	// Locate the bucket and the rank within it of each percentile.
	// slot[b] is 1 + the index in vals of the values of wanted bucket b.
	type target struct{ bucket, offset int }
	targets := make([]target, len(ps))
	slot := make([]int32, numBuckets)
	var vals [][]int64
	for i, p := range ps {
		r := nearestRank(p, st.n)
		targets[i] = target{-1, 0}
		switch r {
		case 1:
			st.q[i] = st.min
			continue
		case st.n:
			st.q[i] = st.max
			continue
		}
		cum := 0
		for b, c := range hist {
			if cum+c >= r {
				targets[i] = target{b, r - cum}
				if slot[b] == 0 {
					vals = append(vals, nil)
					slot[b] = int32(len(vals))
				}
				break
			}
			cum += c
		}
	}
	if len(vals) == 0 {
		return st
	}
	for v := range seq {
		v = max(v, 0)
		if k := slot[bucketOf(v)]; k != 0 {
			vals[k-1] = append(vals[k-1], v)
		}
	}
	for _, vs := range vals {
		slices.Sort(vs)
	}
	for i, t := range targets {
		if t.bucket < 0 {
			continue
		}
		vs := vals[slot[t.bucket]-1]
		if t.offset-1 < len(vs) { // always true unless seq changed between passes
			st.q[i] = vs[t.offset-1]
		}
	}
	return st
}
