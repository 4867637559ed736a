package proc

import (
	"io"
	"testing"
)

func benchmarkStart(b *testing.B, confined bool) {
	for i := 0; i < b.N; i++ {
		p, err := Start(Spec{Argv: []string{"true"}, Env: env(), Confined: confined})
		if err != nil {
			b.Fatal(err)
		}
		p.Stdin.Close()
		io.ReadAll(p.Stdout)
		<-p.Done
	}
}

func BenchmarkStartPlain(b *testing.B)    { benchmarkStart(b, false) }
func BenchmarkStartConfined(b *testing.B) { benchmarkStart(b, true) }
