package postgres_test

import (
	"testing"

	"github.com/glasshouse/glasshouse/auth/authtest"
)

func TestAuthStoreConformance(t *testing.T) {
	authtest.Run(t, func(t *testing.T) authtest.Backend { return openTemp(t) })
}
