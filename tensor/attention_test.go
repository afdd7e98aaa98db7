package tensor

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/dokja/dokja/safetensors"
)

// attendByGemm is the general path AttendQuery must equal: per head, the
// scores as one row times the keys, Softmax, then the row times values.
func attendByGemm(k Kernels, q, keys, values, att []float32, heads, group, hd, ld, n int, scale float32) {
	p := make([]float32, n)
	for h := range heads {
		kv := h / group * hd
		k.Gemm(false, true, 1, n, hd, scale, q[h*hd:], hd, keys[kv:], ld, 0, p, n)
		Softmax(p)
		k.Gemm(false, false, 1, hd, n, 1, p, n, values[kv:], ld, 0, att[h*hd:], hd)
	}
}

func TestAttendQueryEqualsGemm(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	tested := false
	for _, kern := range allPaths(t) {
		qa, ok := kern.(QueryAttender)
		if !ok {
			continue
		}
		tested = true
		for _, tc := range []struct{ heads, group, hd, n, extra int }{
			{1, 1, 16, 1, 0}, {12, 1, 64, 160, 0}, {8, 4, 64, 33, 0}, {32, 8, 64, 7, 0},
			{4, 2, 128, 300, 0}, {6, 6, 48, 5, 16}, {3, 1, 32, 1025, 64},
		} {
			kvHeads := tc.heads / tc.group
			ld := kvHeads*tc.hd + tc.extra // extra: a row wider than the heads taken
			rnd := func(n int) []float32 {
				x := make([]float32, n)
				for i := range x {
					x[i] = float32(r.NormFloat64())
				}
				return x
			}
			q := rnd(tc.heads * tc.hd)
			keys, values := rnd(tc.n*ld), rnd(tc.n*ld)
			scale := float32(1 / math.Sqrt(float64(tc.hd)))
			want := make([]float32, tc.heads*tc.hd)
			attendByGemm(kern, q, keys, values, want, tc.heads, tc.group, tc.hd, ld, tc.n, scale)
			got := rnd(tc.heads * tc.hd) // stale contents must not leak in
			if !qa.AttendQuery(q, keys, values, make([]float32, tc.heads*tc.n), got, tc.heads, tc.group, tc.hd, ld, tc.n, scale) {
				t.Fatalf("%s %+v: shape refused", kern.Name(), tc)
			}
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("%s %+v: att[%d] = %v, general path %v", kern.Name(), tc, i, got[i], want[i])
				}
			}
			// The fp16 kernels equal the general path on the widened cache.
			hk, hv := make([]uint16, len(keys)), make([]uint16, len(values))
			wk, wv := make([]float32, len(keys)), make([]float32, len(values))
			for i := range keys {
				hk[i], hv[i] = safetensors.Float32ToFloat16(keys[i]), safetensors.Float32ToFloat16(values[i])
				wk[i], wv[i] = safetensors.Float16ToFloat32(hk[i]), safetensors.Float16ToFloat32(hv[i])
			}
			attendByGemm(kern, q, wk, wv, want, tc.heads, tc.group, tc.hd, ld, tc.n, scale)
			if !qa.AttendQueryF16(q, hk, hv, make([]float32, tc.heads*tc.n), got, tc.heads, tc.group, tc.hd, ld, tc.n, scale) {
				t.Fatalf("%s %+v: fp16 shape refused", kern.Name(), tc)
			}
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("%s %+v fp16: att[%d] = %v, general path %v", kern.Name(), tc, i, got[i], want[i])
				}
			}
		}
		// Shapes the kernel cannot take leave the output alone.
		att := []float32{1, 2, 3}
		for _, tc := range []struct{ heads, group, hd, n int }{{1, 1, 8, 4}, {3, 2, 16, 4}, {2, 1, 16, 0}} {
			if qa.AttendQuery(make([]float32, 64), make([]float32, 256), make([]float32, 256), make([]float32, 64), att, tc.heads, tc.group, tc.hd, tc.hd, tc.n, 1) {
				t.Errorf("%s %+v: accepted", kern.Name(), tc)
			}
		}
		if att[0] != 1 || att[2] != 3 {
			t.Errorf("%s: a refused shape wrote %v", kern.Name(), att)
		}
	}
	if !tested {
		t.Skip("no kernel path with a fused attention kernel on this build")
	}
}
