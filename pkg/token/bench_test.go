package token_test

import (
	"testing"

	"github.com/waitroom/waitroom/pkg/token"
)

// BenchmarkIssue is the cost of one checkout token, paid once per admitted
// stream (20,000 admitted at once pay it 20,000 times).
func BenchmarkIssue(b *testing.B) {
	for _, k := range keyKinds {
		b.Run(k.alg, func(b *testing.B) {
			iss := mustIssuer(b, k.gen(b), token.IssuerConfig{})
			s := testSession()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := iss.Issue(s); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
