package interop

import (
	"os"
	"testing"

	"github.com/vipd/vipd/internal/e2e"
)

func TestMain(m *testing.M) {
	code := m.Run()
	e2e.Cleanup()
	os.Exit(code)
}
