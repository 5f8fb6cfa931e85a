package entra

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/aispool/aispool/sender"
)

// Source is a [sender.TokenSource] and [sender.TokenRefresher] on an
// azidentity credential. It caches nothing itself: the sender caches the
// token it gets, and azidentity caches its own. It is safe for concurrent
// use.
type Source struct {
	cred azcore.TokenCredential
	desc string
	now  func() time.Time
}

var (
	_ sender.TokenSource    = (*Source)(nil)
	_ sender.TokenRefresher = (*Source)(nil)
)

// New returns a Source on cred, any azcore.TokenCredential (an azidentity
// credential, a ChainedTokenCredential of them, or one of the program's).
func New(cred azcore.TokenCredential) *Source {
	return &Source{cred: cred, desc: fmt.Sprintf("%T", cred), now: time.Now}
}

// NewSource returns a Source on the credential that o describes (see
// [NewCredential]). Errors wrap ErrInvalidConfig.
func NewSource(o Options) (*Source, error) {
	cred, err := NewCredential(o)
	if err != nil {
		return nil, err
	}
	s := New(cred)
	s.desc = o.String()
	return s, nil
}

// String describes the credential, for logs (no secret).
func (s *Source) String() string { return s.desc }

// Token returns a token for scope from the credential (and its cache).
func (s *Source) Token(ctx context.Context, scope string) (sender.AccessToken, error) {
	return s.token(ctx, policy.TokenRequestOptions{Scopes: []string{scope}})
}

// RefreshToken returns a token for scope that does not come from
// azidentity's cache: the sender calls it after the ingestion service
// refused the token it had (401). It asks with a claims challenge that
// requires a token issued from now on (the form of a continuous access
// evaluation challenge), which makes azidentity bypass its cache; managed
// identity endpoints see no claims, Entra ID sees the challenge. If that
// fails, it falls back to [Source.Token], so that a refusal never stops the
// sender from getting a token.
func (s *Source) RefreshToken(ctx context.Context, scope string) (sender.AccessToken, error) {
	claims := fmt.Sprintf(`{"access_token":{"nbf":{"essential":true,"value":"%d"}}}`, s.now().Unix())
	tok, err := s.token(ctx, policy.TokenRequestOptions{Scopes: []string{scope}, Claims: claims})
	if err == nil {
		return tok, nil
	}
	tok, err2 := s.Token(ctx, scope)
	if err2 != nil {
		return sender.AccessToken{}, errors.Join(err, err2)
	}
	return tok, nil
}

func (s *Source) token(ctx context.Context, opts policy.TokenRequestOptions) (sender.AccessToken, error) {
	t, err := s.cred.GetToken(ctx, opts)
	if err != nil {
		return sender.AccessToken{}, fmt.Errorf("entra: %s: %w", s.desc, err)
	}
	return sender.AccessToken{Token: t.Token, ExpiresOn: t.ExpiresOn}, nil
}
