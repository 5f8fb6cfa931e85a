package entra

import "errors"

// ErrInvalidConfig is wrapped by every configuration error of the package:
// a malformed authentication string, an unknown credential kind, or a
// credential that cannot be made from the environment (such as workload
// identity without its variables).
var ErrInvalidConfig = errors.New("entra: invalid configuration")
