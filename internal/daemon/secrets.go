package daemon

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/aispool/aispool/internal/connstring"
)

// maxSecretFileBytes bounds what is read from a secret file: a connection
// string is at most connstring.MaxLen characters.
const maxSecretFileBytes = 4 * connstring.MaxLen

// readSecretFile returns the content of a file holding one secret, white
// space around it trimmed. An empty file is an error: taking it for "no
// secret" would fall back silently to a weaker setting.
func readSecretFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxSecretFileBytes+1))
	if err != nil {
		return "", err
	}
	if len(b) > maxSecretFileBytes {
		return "", fmt.Errorf("%s: larger than %d bytes", path, maxSecretFileBytes)
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", fmt.Errorf("%s: empty", path)
	}
	return s, nil
}

// connectionString returns the connection string the daemon uses before
// the environment: the content of ConnectionStringFile if set, else
// ConnectionString.
func (c Config) connectionString() (string, error) {
	if c.ConnectionStringFile == "" {
		return c.ConnectionString, nil
	}
	return readSecretFile(c.ConnectionStringFile)
}

// validateConnectionString checks the connection string wherever it comes
// from, naming the flag it came from. Errors never hold the string.
func (c Config) validateConnectionString(lookup func(string) (string, bool)) []error {
	if c.ConnectionStringFile != "" && c.ConnectionString != "" {
		return []error{errors.New("--connection-string and --connection-string-file: give one, not both")}
	}
	flag := "--connection-string"
	if c.ConnectionStringFile != "" {
		flag = "--connection-string-file " + c.ConnectionStringFile
	}
	s, err := c.connectionString()
	if err != nil {
		return []error{fmt.Errorf("--connection-string-file: %w", err)}
	}
	if _, err := connstring.Resolve(s, lookup); err != nil {
		return []error{fmt.Errorf("%s: %w", flag, err)}
	}
	return nil
}

// withSecrets returns c with the content of its secret files read in:
// ConnectionStringFile becomes ConnectionString. Errors wrap ErrInvalidConfig.
func (c Config) withSecrets() (Config, error) {
	if c.ConnectionStringFile != "" {
		s, err := c.connectionString()
		if err != nil {
			return c, fmt.Errorf("%w: --connection-string-file: %w", ErrInvalidConfig, err)
		}
		c.ConnectionString, c.ConnectionStringFile = s, ""
	}
	return c, nil
}

// ResolveConnectionString returns the connection string the daemon would
// use (from ConnectionString, ConnectionStringFile or the environment).
// Show it through its redacting methods only.
func (c Config) ResolveConnectionString() (*connstring.ConnectionString, error) {
	s, err := c.connectionString()
	if err != nil {
		return nil, fmt.Errorf("%w: --connection-string-file: %w", ErrInvalidConfig, err)
	}
	cs, err := connstring.Resolve(s, c.LookupEnv) // nil: no environment, as in Validate
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	return cs, nil
}
