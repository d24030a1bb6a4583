package token_test

import (
	"cmp"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/waitroom/waitroom/pkg/queue"
	"github.com/waitroom/waitroom/pkg/token"
)

// BenchmarkIssue is the cost of one checkout token, paid once per admitted
// stream (20,000 admitted at once pay it 20,000 times).
func BenchmarkIssue(b *testing.B) {
	for _, k := range keyKinds {
		b.Run(k.alg, func(b *testing.B) {
			iss, err := token.NewIssuer(token.IssuerConfig{Key: k.gen(b)})
			if err != nil {
				b.Fatal(err)
			}
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

// TestIssueEncodesAsGolangJWT: Issue writes the header and claims itself,
// for speed; they must be the very bytes golang-jwt writes for Claims, with
// awkward issuers and audiences and every id character a session may hold.
func TestIssueEncodesAsGolangJWT(t *testing.T) {
	sessions := []queue.Session{testSession()}
	odd := testSession()
	odd.UserID, odd.EventID = "a:b@c.d_E-9", "Ev.ent-1_x"
	odd.ID = odd.EventID + "~0123456789abcdefghjkmnpqrs"
	odd.AdmittedAt = time.Date(2031, 12, 31, 23, 59, 59, 999_999_999, time.UTC)
	odd.CheckoutDeadline = odd.AdmittedAt.Add(time.Second)
	sessions = append(sessions, odd)

	for _, k := range keyKinds {
		for _, names := range [][2]string{
			{"", ""},
			{"https://queue.example/é", `a"b\c<d>&e` + "\x01\u2028"},
		} {
			key := k.gen(t)
			iss, err := token.NewIssuer(token.IssuerConfig{Key: key, Issuer: names[0], Audience: names[1]})
			if err != nil {
				t.Fatal(err)
			}
			issuer, audience := cmp.Or(names[0], token.DefaultIssuer), cmp.Or(names[1], token.DefaultAudience)
			for _, s := range sessions {
				got, err := iss.Issue(s)
				if err != nil {
					t.Fatal(err)
				}
				ref := jwt.NewWithClaims(jwt.GetSigningMethod(k.alg), &token.Claims{
					RegisteredClaims: jwt.RegisteredClaims{
						Issuer: issuer, Subject: s.UserID, Audience: jwt.ClaimStrings{audience},
						ExpiresAt: jwt.NewNumericDate(s.CheckoutDeadline),
						NotBefore: jwt.NewNumericDate(s.AdmittedAt), IssuedAt: jwt.NewNumericDate(s.AdmittedAt),
						ID: s.ID,
					},
					SessionID: s.ID, EventID: s.EventID,
				})
				ref.Header["kid"] = iss.KeyID()
				want, err := ref.SigningString()
				if err != nil {
					t.Fatal(err)
				}
				if signing := got[:strings.LastIndexByte(got, '.')]; signing != want {
					t.Errorf("%s, issuer %q: signed\n%s\nwant\n%s", k.alg, names[0], signing, want)
				}
				if k.alg == token.AlgEdDSA {
					full, err := ref.SignedString(key)
					if err != nil {
						t.Fatal(err)
					}
					if got != full {
						t.Errorf("EdDSA token differs from golang-jwt's:\n%s\n%s", got, full)
					}
				}
				if id, err := iss.SessionID(got); err != nil || id != s.ID {
					t.Errorf("SessionID(issued) = %q, %v", id, err)
				}
			}
		}
	}
}
