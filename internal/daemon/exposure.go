package daemon

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"

	"github.com/aispool/aispool/ingest"
)

// Exposure says who may use the local ingestion endpoint beyond its own
// machine; see docs/security.md. Secrets come from files, never from
// flags, so that ps does not show them.
type Exposure struct {
	// PathSecretFile holds a secret path prefix (at least 16 characters of
	// A-Z a-z 0-9 - . _ ~): the intake then serves
	// /<secret>/v2.1/track, which every SDK reaches with
	// IngestionEndpoint=https://host:port/<secret>/.
	PathSecretFile string
	// BearerTokenFile holds a token (at least 16 characters of A-Z a-z 0-9
	// - . _ ~ + / and trailing =) that clients may send as
	// "Authorization: Bearer <token>".
	BearerTokenFile string
	// TLSClientCA is a PEM file of CA certificates: a client certificate
	// they issued authenticates a request (mutual TLS). Needs TLSCert.
	TLSClientCA string
	// AllowNetworks are the client networks allowed (CIDR prefixes or
	// single addresses); empty allows every address.
	AllowNetworks []string
}

// Summary names the authentication methods e sets ("path-secret",
// "bearer", "client-cert", comma-separated) and the allowed networks, or
// says "none".
func (e Exposure) Summary() string {
	var m []string
	if e.PathSecretFile != "" {
		m = append(m, "path-secret")
	}
	if e.BearerTokenFile != "" {
		m = append(m, "bearer")
	}
	if e.TLSClientCA != "" {
		m = append(m, "client-cert")
	}
	s := strings.Join(m, ",")
	if s == "" {
		s = "none"
	}
	if len(e.AllowNetworks) > 0 {
		s += "; networks " + strings.Join(e.AllowNetworks, ",")
	}
	return s
}

// Minimum length of the secrets: 16 characters of a 64-character alphabet
// are 96 bits.
const minSecretLen = 16

// validateExposure checks the exposure settings, each error naming its
// flag. It reads the files it names.
func (c Config) validateExposure() []error {
	e := c.Exposure
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if e.PathSecretFile != "" {
		if _, err := readPathSecret(e.PathSecretFile); err != nil {
			add("--path-secret-file: %w", err)
		}
	}
	if e.BearerTokenFile != "" {
		if _, err := readBearerToken(e.BearerTokenFile); err != nil {
			add("--bearer-token-file: %w", err)
		}
	}
	if e.TLSClientCA != "" {
		if c.TLSCert == "" {
			add("--tls-client-ca: needs --tls-cert and --tls-key (client certificates are checked in the TLS handshake)")
		}
		if _, err := loadCertPool(e.TLSClientCA); err != nil {
			add("--tls-client-ca: %w", err)
		}
	}
	if _, err := parseNetworks(e.AllowNetworks); err != nil {
		errs = append(errs, err)
	}
	return errs
}

// readPathSecret reads and checks a path secret file.
func readPathSecret(path string) (string, error) {
	s, err := readSecretFile(path)
	if err != nil {
		return "", err
	}
	if err := checkSecret(s, func(r rune) bool { return isUnreserved(r) }); err != nil {
		return "", fmt.Errorf("%s: %w (it becomes a URL path segment)", path, err)
	}
	return s, nil
}

// readBearerToken reads and checks a bearer token file.
func readBearerToken(path string) (string, error) {
	s, err := readSecretFile(path)
	if err != nil {
		return "", err
	}
	body := strings.TrimRight(s, "=")
	if err := checkSecret(body, func(r rune) bool { return isUnreserved(r) || r == '+' || r == '/' }); err != nil {
		return "", fmt.Errorf("%s: %w (the token68 syntax of RFC 6750)", path, err)
	}
	return s, nil
}

// checkSecret checks a secret's length and alphabet without showing it.
func checkSecret(s string, ok func(rune) bool) error {
	if len(s) < minSecretLen {
		return fmt.Errorf("the secret has %d characters, fewer than %d; generate one with: openssl rand -hex 32", len(s), minSecretLen)
	}
	for i, r := range s {
		if !ok(r) {
			return fmt.Errorf("character %d of the secret is not allowed: use A-Z a-z 0-9 - . _ ~", i+1)
		}
	}
	return nil
}

// isUnreserved reports whether r is an unreserved URI character (RFC 3986).
func isUnreserved(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-._~", r)
}

// loadCertPool reads a PEM file of CA certificates.
func loadCertPool(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s: no PEM certificate in it", path)
	}
	return pool, nil
}

// parseNetworks parses CIDR prefixes and single addresses (as /32 or
// /128), naming every one that does not parse.
func parseNetworks(nets []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	var errs []error
	for _, s := range nets {
		s = strings.TrimSpace(s)
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
		} else if a, err := netip.ParseAddr(s); err == nil {
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
		} else {
			errs = append(errs, fmt.Errorf("--allow-network %q: not a CIDR prefix (10.0.0.0/8, fd00::/8) nor an address", s))
		}
	}
	return out, errors.Join(errs...)
}

// guardConfig returns the intake's guard settings, secrets read in.
func (c Config) guardConfig() (ingest.GuardConfig, error) {
	g := ingest.GuardConfig{Logger: c.Logger, ClientCerts: c.Exposure.TLSClientCA != ""}
	var err error
	if f := c.Exposure.PathSecretFile; f != "" {
		if g.PathSecret, err = readPathSecret(f); err != nil {
			return g, fmt.Errorf("%w: --path-secret-file: %w", ErrInvalidConfig, err)
		}
	}
	if f := c.Exposure.BearerTokenFile; f != "" {
		if g.BearerToken, err = readBearerToken(f); err != nil {
			return g, fmt.Errorf("%w: --bearer-token-file: %w", ErrInvalidConfig, err)
		}
	}
	if g.AllowNetworks, err = parseNetworks(c.Exposure.AllowNetworks); err != nil {
		return g, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	return g, nil
}

// secureIntake puts the guard in front of the intake and sets its TLS
// configuration (TLS 1.2 at least; client certificates checked against
// --tls-client-ca when given). It keeps the path secret for
// IngestionEndpoint.
func (d *Daemon) secureIntake() error {
	gc, err := d.cfg.guardConfig()
	if err != nil {
		return err
	}
	d.pathSecret, d.authMethods = gc.PathSecret, gc.Methods()
	return d.secure(d.ing, gc)
}

// secure puts the guard of gc in front of srv's handler and sets its TLS
// configuration (TLS 1.2 at least; client certificates checked against
// --tls-client-ca when given).
func (d *Daemon) secure(srv *http.Server, gc ingest.GuardConfig) error {
	var err error
	if srv.Handler, err = ingest.NewGuard(srv.Handler, gc); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	srv.TLSConfig, err = d.cfg.serverTLS()
	return err
}

// serverTLS returns the TLS configuration of the intakes, nil without
// --tls-cert.
func (c Config) serverTLS() (*tls.Config, error) {
	if c.TLSCert == "" {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.Exposure.TLSClientCA != "" {
		pool, err := loadCertPool(c.Exposure.TLSClientCA)
		if err != nil {
			return nil, fmt.Errorf("%w: --tls-client-ca: %w", ErrInvalidConfig, err)
		}
		cfg.ClientCAs = pool
		// Verified if given; a client without one gets an HTTP answer
		// saying what is missing rather than a failed handshake.
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
	}
	return cfg, nil
}

// IngestionEndpoint is what an SDK's connection string gets as
// IngestionEndpoint to send to this daemon: IngestURL, the secret path
// prefix if there is one, and a trailing '/'. It holds the secret: do not
// log it. "" if the local ingestion endpoint is off.
func (d *Daemon) IngestionEndpoint() string {
	u := d.IngestURL()
	if u == "" {
		return ""
	}
	if d.pathSecret != "" {
		u += "/" + d.pathSecret
	}
	return u + "/"
}

// authSummary names the intake's authentication methods for the start
// line: "path-secret,bearer", or "none".
func (d *Daemon) authSummary() string {
	if len(d.authMethods) == 0 {
		return "none"
	}
	return strings.Join(d.authMethods, ",")
}

// ExposureWarnings returns what is unsafe about serving the local
// ingestion endpoint on listen (a host:port; the bound address when known)
// with c: an address beyond loopback without TLS, or without
// authentication. Every network it may reach can then read or write
// telemetry.
func (c Config) ExposureWarnings(listen string) []string {
	return c.exposureWarnings("--listen", listen)
}

// IntakeExposureWarnings returns the exposure warnings of every intake
// listener (--listen, --otlp-http-listen, --otlp-grpc-listen), as
// ExposureWarnings does for --listen.
func (c Config) IntakeExposureWarnings() []string {
	var w []string
	for _, l := range c.listeners() {
		if l.flag != "--admin-listen" {
			w = append(w, c.exposureWarnings(l.flag, l.addr)...)
		}
	}
	return w
}

func (c Config) exposureWarnings(flag, listen string) []string {
	if listen == "" || isLoopback(listen) {
		return nil
	}
	var w []string
	if c.TLSCert == "" {
		w = append(w, fmt.Sprintf("%s %s is reachable beyond this machine without TLS: "+
			"telemetry and credentials cross the network in clear text (set --tls-cert and --tls-key)", flag, listen))
	}
	e := c.Exposure
	if e.PathSecretFile == "" && e.BearerTokenFile == "" && e.TLSClientCA == "" {
		w = append(w, fmt.Sprintf("%s %s is reachable beyond this machine without authentication: "+
			"anyone who reaches it can write telemetry into the spool and the Application Insights resource "+
			"(set --path-secret-file, --bearer-token-file or --tls-client-ca; see docs/security.md)", flag, listen))
	}
	return w
}

// isLoopback reports whether a host:port listens on loopback only: a
// loopback address or "localhost". An empty host, an unspecified address
// (every interface) and other names are not.
func isLoopback(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback()
}

// SecretFileWarnings returns a warning for each file of a private key or
// secret (--tls-key, --path-secret-file, --bearer-token-file,
// --connection-string-file) whose mode lets users other than its owner read
// or change it. Files that cannot be read are Validate's concern.
func (c Config) SecretFileWarnings() []string {
	var w []string
	for _, f := range []struct{ flag, path string }{
		{"--tls-key", c.TLSKey}, {"--path-secret-file", c.Exposure.PathSecretFile},
		{"--bearer-token-file", c.Exposure.BearerTokenFile}, {"--connection-string-file", c.ConnectionStringFile},
	} {
		if f.path == "" {
			continue
		}
		fi, err := os.Stat(f.path) // through symbolic links, as Kubernetes mounts Secrets
		if err != nil {
			continue
		}
		if perm := fi.Mode().Perm(); perm&0o077 != 0 {
			w = append(w, fmt.Sprintf("%s %s: mode %04o lets users other than its owner read or change it; "+
				"chmod 0600 (or 0400) it", f.flag, f.path, perm))
		}
	}
	return w
}

// warnExposure logs the exposure warnings for the bound ingestion address
// and the secret file warnings.
func (d *Daemon) warnExposure() {
	for _, l := range []struct {
		flag string
		ln   net.Listener
	}{{"--listen", d.ingLn}, {"--otlp-http-listen", d.otlp.httpLn}, {"--otlp-grpc-listen", d.otlp.grpcLn}} {
		if l.ln == nil {
			continue
		}
		for _, w := range d.cfg.exposureWarnings(l.flag, l.ln.Addr().String()) {
			d.log.Warn("ingest: " + w)
		}
	}
	for _, w := range d.secretFileWarnings {
		d.log.Warn(w)
	}
}
