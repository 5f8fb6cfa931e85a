package metrics

import (
	"io"
	"runtime"
	"strings"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// writeText writes one metric family in the text format, with the Go
// version replaced by a placeholder so that the golden files do not depend
// on the toolchain.
func writeText(w io.Writer, mf *dto.MetricFamily) error {
	var sb strings.Builder
	if _, err := expfmt.MetricFamilyToText(&sb, mf); err != nil {
		return err
	}
	_, err := io.WriteString(w, strings.ReplaceAll(sb.String(), runtime.Version(), "GOVERSION"))
	return err
}

func goVersion() string { return runtime.Version() }
