package format

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"runtime/metrics"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"
	"github.com/parquet-go/parquet-go"
	pformat "github.com/parquet-go/parquet-go/format"
	"github.com/pierrec/lz4/v4"
)

// parquetFile is a file whose last 8 bytes are footerLen and "PAR1", with
// body between the magic and them.
func parquetFile(body string, footerLen uint32) []byte {
	b := []byte("PAR1" + body)
	b = binary.LittleEndian.AppendUint32(b, footerLen)
	return append(b, "PAR1"...)
}

// TestParquetRefusesWhatItCannotBe: what a file declares is checked against
// what it is before parquet-go allocates it, so each hostile file is an
// error, found with a few KiB of memory.
func TestParquetRefusesWhatItCannotBe(t *testing.T) {
	valid := writeParquet(t, []parquetRecord{{"e1", time.Unix(0, 0), 34, nil, "pro", true, 0.5}})
	// The footer (thrift FileMetaData) of one field: a list of 2^30 structs.
	hugeList := "\x19\xfc\x80\x80\x80\x80\x04"
	for _, tc := range []struct {
		name string
		data []byte
		lim  ParquetLimits
		want string
	}{
		{"a footer longer than the file", parquetFile("xxxx", 0xdb000000), DefaultParquetLimits, "footer of 3674210304 bytes declared in a file of 16 bytes"},
		{"a footer longer than the limit", parquetFile(strings.Repeat("x", 100), 100), ParquetLimits{MaxFooterBytes: 64, MaxPageBytes: 1 << 20, MaxMemory: 1 << 20}, "over the reader's limits: footer of 100 bytes, limit 64"},
		{"a list longer than the footer", parquetFile(hugeList, uint32(len(hugeList))), DefaultParquetLimits, "structure runs past the end of its data"},
		{"too short", []byte("PAR1PAR1"), DefaultParquetLimits, "8 bytes is too short"},
		{"no magic", append([]byte("PAR0"), valid[4:]...), DefaultParquetLimits, "no PAR1 magic"},
		{"pages over the page limit", valid, ParquetLimits{MaxFooterBytes: 1 << 20, MaxPageBytes: 2, MaxMemory: 1 << 30}, "over the reader's limits: page of"},
		{"a row group over the memory limit", valid, ParquetLimits{MaxFooterBytes: 1 << 20, MaxPageBytes: 1 << 20, MaxMemory: 4 << 10}, "over the reader's limits"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			allocated := allocatedBy(func() { _, err = OpenParquetLimits(bytes.NewReader(tc.data), tc.lim) })
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one saying %q", err, tc.want)
			}
			if allocated > 64<<10 {
				t.Errorf("refusing it allocated %d bytes", allocated)
			}
		})
	}
	// The magic PARE (encrypted footer) is refused by name.
	enc := parquetFile("xxxx", 4)
	copy(enc[len(enc)-4:], "PARE")
	if _, err := OpenParquet(bytes.NewReader(enc)); err == nil || !strings.Contains(err.Error(), "encrypted") {
		t.Errorf("encrypted file: err = %v", err)
	}
	// Under the default limits, a file of any codec reads.
	for _, codec := range []parquet.WriterOption{parquet.Compression(&parquet.Zstd), parquet.Compression(&parquet.Gzip),
		parquet.Compression(&parquet.Snappy), parquet.Compression(&parquet.Lz4Raw), parquet.Compression(&parquet.Brotli),
		parquet.Compression(&parquet.Uncompressed)} {
		var buf bytes.Buffer
		w := parquet.NewGenericWriter[parquetRecord](&buf, codec, parquet.MaxRowsPerRowGroup(2))
		if _, err := w.Write([]parquetRecord{{"e1", time.Unix(0, 0), 34, nil, "pro", true, 0.5}, {"e2", time.Unix(0, 0), 35, nil, "basic", false, 0.25}, {"e3", time.Unix(0, 0), 36, nil, "pro", true, 1}}); err != nil || w.Close() != nil {
			t.Fatal(err)
		}
		if err := checkParquet(bytes.NewReader(buf.Bytes()), int64(buf.Len()), DefaultParquetLimits, nil); err != nil {
			t.Errorf("%v: %v", codec, err)
		}
	}
	if err := checkParquet(bytes.NewReader(valid), int64(len(valid)), DefaultParquetLimits, nil); errors.Is(err, errCorrupt) || err != nil {
		t.Errorf("valid file: %v", err)
	}
}

// allocatedBy returns the bytes f allocates on the heap.
func allocatedBy(f func()) uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	before := s[0].Value.Uint64()
	f()
	metrics.Read(s)
	return s[0].Value.Uint64() - before
}

// TestParquetPageDecompressesToWhatItDeclares: a page that decompresses to
// more than its header declares is refused after holding at most the
// declared size (parquet-go would grow its buffer to whatever comes out; for
// corrupt LZ4, forever).
func TestParquetPageDecompressesToWhatItDeclares(t *testing.T) {
	zeros := make([]byte, 8<<20)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(zeros)
	zw.Close()
	zstdEnc, _ := zstd.NewWriter(nil)
	zs := zstdEnc.EncodeAll(zeros, nil)
	lz := make([]byte, lz4.CompressBlockBound(len(zeros)))
	n, _ := lz4.CompressBlock(zeros, lz, nil)
	lz = lz[:n]
	sn := snappy.Encode(nil, zeros)
	for _, tc := range []struct {
		codec pformat.CompressionCodec
		data  []byte
		want  int64
		err   string
	}{
		{pformat.Gzip, gz.Bytes(), 1 << 20, "decompresses to more than the page's 1048576 bytes"},
		{pformat.Gzip, gz.Bytes(), 8 << 20, ""},
		{pformat.Zstd, zs, 1 << 20, "ZSTD"},
		{pformat.Zstd, zs, 8 << 20, ""},
		{pformat.Lz4Raw, lz, 1 << 20, "LZ4_RAW"},
		{pformat.Lz4Raw, lz[:len(lz)/2], 8 << 20, "LZ4_RAW"},
		{pformat.Lz4Raw, lz, 8 << 20, ""},
		{pformat.Snappy, sn, 1 << 20, "snappy data of 8388608 bytes in a page of 1048576"},
		{pformat.Snappy, sn, 8 << 20, ""},
	} {
		c := pageChecker{r: bytes.NewReader(tc.data), lim: DefaultParquetLimits}
		var err error
		allocated := allocatedBy(func() { err = c.decompressed(0, int64(len(tc.data)), tc.want, tc.codec) })
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%s into %d: %v", tc.codec, tc.want, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%s into %d: err = %v, want one saying %q", tc.codec, tc.want, err, tc.err)
		}
		if bound := uint64(tc.want) + uint64(len(tc.data)) + 4<<20; allocated > bound {
			t.Errorf("%s into %d: allocated %d bytes, want at most %d", tc.codec, tc.want, allocated, bound)
		}
	}
}
