//go:build amd64

package tensor

import (
	"golang.org/x/sys/cpu"

	"github.com/dokja/dokja/tensor/internal/avx"
)

func init() {
	if cpu.X86.HasAVX2 {
		expSub, swiGLU = expSubAVX2, swiGLUAVX2
	}
}

func expSubAVX2(x []float32, m float32) int {
	n := len(x) &^ 7
	if n > 0 {
		avx.ExpSub(&x[0], n, m)
	}
	return n
}

func swiGLUAVX2(dst, gate, up []float32) int {
	n := min(len(dst), len(gate), len(up)) &^ 7
	if n > 0 {
		avx.SwiGLU(&dst[0], &gate[0], &up[0], n)
	}
	return n
}
