//go:build !unix

package format

import (
	"io"
	"os"
)

func mapCSV(*os.File, Options) (*CSV, io.Closer, error) { return nil, nil, nil }
