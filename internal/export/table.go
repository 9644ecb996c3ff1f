package export

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/parquet-go/parquet-go"
)

// Columns is the long table's header, in order.
var Columns = []string{"model", "version", "window_end", "metric", "value", "status"}

// WriteCSV writes rows as CSV with a header: window_end in RFC 3339 (UTC),
// value in Go's shortest decimal form, empty for no value.
func WriteCSV(w io.Writer, rows []Row) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(Columns); err != nil {
		return err
	}
	for _, r := range rows {
		val := ""
		if r.Value != nil {
			val = strconv.FormatFloat(*r.Value, 'g', -1, 64)
		}
		if err := cw.Write([]string{r.Model, r.Version, r.WindowEnd.UTC().Format(time.RFC3339), r.Metric, val, r.Status}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// parquetRow is the Parquet schema: window_end a TIMESTAMP(MILLIS, UTC),
// value an optional DOUBLE.
type parquetRow struct {
	Model     string    `parquet:"model"`
	Version   string    `parquet:"version"`
	WindowEnd time.Time `parquet:"window_end,timestamp(millisecond)"`
	Metric    string    `parquet:"metric"`
	Value     *float64  `parquet:"value,optional"`
	Status    string    `parquet:"status"`
}

// WriteParquet writes rows as one Parquet file (Snappy-compressed).
func WriteParquet(w io.Writer, rows []Row) error {
	pw := parquet.NewGenericWriter[parquetRow](w, parquet.Compression(&parquet.Snappy))
	batch := make([]parquetRow, 0, len(rows))
	for _, r := range rows {
		batch = append(batch, parquetRow{r.Model, r.Version, r.WindowEnd.UTC(), r.Metric, r.Value, r.Status})
	}
	if _, err := pw.Write(batch); err != nil {
		return fmt.Errorf("parquet: %w", err)
	}
	if err := pw.Close(); err != nil {
		return fmt.Errorf("parquet: %w", err)
	}
	return nil
}
