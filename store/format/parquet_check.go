package format

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	pformat "github.com/parquet-go/parquet-go/format"
	"github.com/pierrec/lz4/v4"
)

// ParquetLimits bounds what one Parquet file may make the reader allocate.
// parquet-go trusts the sizes and counts a file declares (footer length, list
// lengths in the metadata, page sizes, value counts, decompressed sizes) and
// allocates them before it finds out they are false, so checkParquet holds
// every declared number against the file's real size and against these
// limits before parquet-go sees the file.
type ParquetLimits struct {
	// MaxFooterBytes bounds the file metadata (the footer).
	MaxFooterBytes int64
	// MaxPageBytes bounds one page, compressed or decompressed, and one page
	// header.
	MaxPageBytes int64
	// MaxMemory bounds the estimated memory to read one object: its decoded
	// metadata plus the pages of one row group held at once (for each column
	// read, its dictionary, its largest page and a buffer of values; of a
	// repeated column only each row's first value is kept, the rest are
	// skipped as they are read).
	MaxMemory int64
}

// DefaultParquetLimits are the limits OpenParquet applies. Writers cut pages
// at about 1 MiB (parquet-mr, Arrow) or 256 KiB (parquet-go) and row groups
// at 128 MiB, so real files stay far below them.
var DefaultParquetLimits = ParquetLimits{
	MaxFooterBytes: 16 << 20,
	MaxPageBytes:   64 << 20,
	MaxMemory:      256 << 20,
}

const (
	// goStructBytes is an upper bound of the in-memory size of any element
	// parquet-go decodes from a thrift list in the footer (format.ColumnChunk,
	// the largest, is 560 bytes on 64-bit platforms).
	goStructBytes = 576
	// valueBytes is what parquet-go holds per value of a page while decoding
	// it: repetition and definition levels (one byte each), the value or
	// dictionary index (up to 8 bytes) and an offset (4 bytes).
	valueBytes = 16
	// rowValueBytes is the size of a parquet.Value.
	rowValueBytes = 24
	// cursorValues is how many values a column's cursor reads at once.
	cursorValues = 256
	// thriftMaxDepth bounds nesting in thrift structures and in the schema.
	thriftMaxDepth = 64
)

var (
	errCorrupt   = errors.New("corrupt file")
	errTooLarge  = errors.New("over the reader's limits")
	errShortData = errors.New("thrift: structure runs past the end of its data")
)

// checkParquet validates what the file r of size bytes declares against what
// it is, and against lim, before parquet-go allocates anything it declares.
// It reads the footer, walks the page headers of every column chunk that keep
// selects (nil: all; the others are never read), and checks that each
// compressed page decompresses to no more than it declares.
func checkParquet(r io.ReaderAt, size int64, lim ParquetLimits, keep func(string) bool) error {
	if size < 12 {
		return fmt.Errorf("%w: %d bytes is too short for a Parquet file (magic, footer length, magic)", errCorrupt, size)
	}
	var head [4]byte
	var tail [8]byte
	if _, err := r.ReadAt(head[:], 0); err != nil {
		return fmt.Errorf("reading magic: %w", err)
	}
	if _, err := r.ReadAt(tail[:], size-8); err != nil {
		return fmt.Errorf("reading footer length: %w", err)
	}
	if string(tail[4:]) == "PARE" {
		return errors.New("encrypted Parquet files (magic PARE) are not supported")
	}
	if string(head[:]) != "PAR1" || string(tail[4:]) != "PAR1" {
		return fmt.Errorf("%w: not a Parquet file (no PAR1 magic at start and end)", errCorrupt)
	}
	footerLen := int64(binary.LittleEndian.Uint32(tail[:4]))
	if footerLen > size-12 {
		return fmt.Errorf("%w: footer of %d bytes declared in a file of %d bytes", errCorrupt, footerLen, size)
	}
	if footerLen > lim.MaxFooterBytes {
		return fmt.Errorf("%w: footer of %d bytes, limit %d", errTooLarge, footerLen, lim.MaxFooterBytes)
	}
	footer := make([]byte, footerLen)
	if _, err := r.ReadAt(footer, size-8-footerLen); err != nil {
		return fmt.Errorf("reading footer: %w", err)
	}
	n, elems, err := walkThrift(footer)
	if err != nil {
		return fmt.Errorf("%w: footer: %v", errCorrupt, err)
	}
	if n != len(footer) {
		return fmt.Errorf("%w: footer: %d bytes after the metadata", errCorrupt, len(footer)-n)
	}
	// parquet-go copies the footer and decodes it; each list element becomes
	// at most one format struct.
	footerMem := 2*footerLen + elems*goStructBytes
	if footerMem > lim.MaxMemory {
		return fmt.Errorf("%w: metadata of %d list elements needs about %d MiB, limit %d MiB",
			errTooLarge, elems, footerMem>>20, lim.MaxMemory>>20)
	}
	var md pformat.FileMetaData
	if err := thrift.Unmarshal(&thrift.CompactProtocol{}, footer, &md); err != nil {
		return fmt.Errorf("%w: footer: %v", errCorrupt, err)
	}
	leaves, err := checkSchema(md.Schema)
	if err != nil {
		return fmt.Errorf("%w: schema: %v", errCorrupt, err)
	}
	c := pageChecker{r: r, dataEnd: size - 8 - footerLen, lim: lim}
	defer func() {
		if c.zstd != nil {
			c.zstd.Close()
		}
	}()
	for g := range md.RowGroups {
		rg := &md.RowGroups[g]
		if len(rg.Columns) != len(leaves) {
			return fmt.Errorf("%w: row group %d has %d column chunks, the schema %d columns", errCorrupt, g, len(rg.Columns), len(leaves))
		}
		var mem int64
		for j := range rg.Columns {
			if keep != nil && !keep(leaves[j].name) {
				continue
			}
			mem += cursorValues * rowValueBytes
			cc := &rg.Columns[j]
			// parquet-go decompresses every chunk of a column with the
			// codec of its first chunk.
			codec := md.RowGroups[0].Columns[j].MetaData.Codec
			if cc.MetaData.Codec != codec {
				return fmt.Errorf("column %q: row groups with different compression (%s, %s) are not supported",
					leaves[j], codec, cc.MetaData.Codec)
			}
			if cc.FilePath != "" {
				return fmt.Errorf("column %q: column chunks in other files (%q) are not supported", leaves[j], cc.FilePath)
			}
			cm, err := c.chunk(cc, codec)
			if err != nil {
				return fmt.Errorf("row group %d, column %q: %w", g, leaves[j], err)
			}
			mem += cm
		}
		if footerMem+mem > lim.MaxMemory {
			return fmt.Errorf("%w: row group %d needs about %d MiB to read, limit %d MiB",
				errTooLarge, g, (footerMem+mem)>>20, lim.MaxMemory>>20)
		}
	}
	return nil
}

// leaf is a leaf column of the schema.
type leaf struct {
	name string
}

func (l leaf) String() string { return l.name }

// checkSchema checks that the schema is one tree (each group's children
// follow it, depth-first, and nothing is left over) and returns its leaves in
// order. parquet-go counts on both when it sizes its column tables.
func checkSchema(s []pformat.SchemaElement) ([]leaf, error) {
	if len(s) == 0 {
		return nil, errors.New("no root element")
	}
	var leaves []leaf
	i := 0
	var walk func(prefix string, depth int) error
	walk = func(prefix string, depth int) error {
		if i >= len(s) {
			return fmt.Errorf("groups declare more children than the %d elements", len(s))
		}
		if depth > thriftMaxDepth {
			return fmt.Errorf("nested deeper than %d", thriftMaxDepth)
		}
		e := &s[i]
		i++
		name := e.Name
		if depth > 1 {
			name = prefix + "." + e.Name
		}
		if e.Type.Valid { // a leaf, as parquet-go decides (isLeafSchemaElement)
			leaves = append(leaves, leaf{name})
			return nil
		}
		if depth > 0 && (!e.NumChildren.Valid || e.NumChildren.V <= 0) {
			return fmt.Errorf("element %q has neither a type nor children", e.Name)
		}
		n := int(e.NumChildren.V)
		if n < 0 || n > len(s)-i {
			return fmt.Errorf("element %q declares %d children, %d elements follow", e.Name, n, len(s)-i)
		}
		for range n {
			if err := walk(name, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk("", 0); err != nil {
		return nil, err
	}
	if i != len(s) {
		return nil, fmt.Errorf("%d elements are outside the schema tree", len(s)-i)
	}
	return leaves, nil
}

// pageChecker walks the pages of column chunks.
type pageChecker struct {
	r       io.ReaderAt
	dataEnd int64 // where the footer starts
	lim     ParquetLimits
	buf     []byte
	zstd    *zstd.Decoder
	gzip    *gzip.Reader
	brotli  *brotli.Reader
}

// chunk checks one column chunk the way parquet-go reads it (FilePages: a
// section from the dictionary or first data page offset, TotalCompressedSize
// long, pages one after another) and returns the memory its largest page and
// its dictionary take to decode.
func (c *pageChecker) chunk(cc *pformat.ColumnChunk, codec pformat.CompressionCodec) (int64, error) {
	m := &cc.MetaData
	switch codec {
	case pformat.Uncompressed, pformat.Snappy, pformat.Gzip, pformat.Brotli, pformat.Zstd, pformat.Lz4Raw:
	default:
		return 0, fmt.Errorf("compression %s is not supported", codec)
	}
	start := m.DataPageOffset
	if m.DictionaryPageOffset != 0 {
		start = m.DictionaryPageOffset
	}
	if start < 4 || m.TotalCompressedSize < 0 || m.TotalCompressedSize > c.dataEnd-start {
		return 0, fmt.Errorf("%w: chunk of %d bytes at offset %d lies outside the data (4..%d)",
			errCorrupt, m.TotalCompressedSize, start, c.dataEnd)
	}
	end := start + m.TotalCompressedSize
	var dict, largest int64
	for pos := start; pos < end; {
		h, hlen, err := c.header(pos, end)
		if err != nil {
			return 0, fmt.Errorf("page at offset %d: %w", pos, err)
		}
		body := pos + int64(hlen)
		mem, _, err := c.page(h, body, end, codec)
		if err != nil {
			return 0, fmt.Errorf("page at offset %d: %w", pos, err)
		}
		if h.Type == pformat.DictionaryPage {
			dict = max(dict, mem)
		} else {
			largest = max(largest, mem)
		}
		pos = body + int64(h.CompressedPageSize)
	}
	return dict + largest, nil
}

// header reads and decodes the page header at pos, growing the read until
// the whole header is in the buffer (headers carry statistics of any size).
func (c *pageChecker) header(pos, end int64) (*pformat.PageHeader, int, error) {
	want := int64(256)
	for {
		n := min(want, end-pos)
		if cap(c.buf) < int(n) {
			c.buf = make([]byte, n)
		}
		b := c.buf[:n]
		if _, err := c.r.ReadAt(b, pos); err != nil {
			return nil, 0, fmt.Errorf("reading page header: %w", err)
		}
		hlen, _, err := walkThrift(b)
		if errors.Is(err, errShortData) && n < end-pos && want < c.lim.MaxPageBytes {
			want *= 4
			continue
		}
		if err != nil {
			return nil, 0, fmt.Errorf("%w: page header: %v", errCorrupt, err)
		}
		h := new(pformat.PageHeader)
		if err := thrift.Unmarshal(&thrift.CompactProtocol{}, b[:hlen], h); err != nil {
			return nil, 0, fmt.Errorf("%w: page header: %v", errCorrupt, err)
		}
		return h, hlen, nil
	}
}

// page checks one page's declared sizes and counts, and that its data
// decompresses to no more than it declares. It returns the memory
// parquet-go needs to decode it and its number of values.
func (c *pageChecker) page(h *pformat.PageHeader, body, end int64, codec pformat.CompressionCodec) (mem, values int64, err error) {
	comp, uncomp := int64(h.CompressedPageSize), int64(h.UncompressedPageSize)
	switch {
	case comp < 0 || uncomp < 0:
		return 0, 0, fmt.Errorf("%w: negative page size (%d compressed, %d uncompressed)", errCorrupt, comp, uncomp)
	case comp > end-body:
		return 0, 0, fmt.Errorf("%w: page of %d bytes runs past its column chunk (%d bytes left)", errCorrupt, comp, end-body)
	case comp > c.lim.MaxPageBytes || uncomp > c.lim.MaxPageBytes:
		return 0, 0, fmt.Errorf("%w: page of %d bytes (%d decompressed), limit %d", errTooLarge, comp, uncomp, c.lim.MaxPageBytes)
	}
	var levels int64 // v2: levels precede the data, never compressed
	compressed := codec != pformat.Uncompressed
	switch h.Type {
	case pformat.DataPage:
		if !h.DataPageHeader.Valid {
			return 0, 0, fmt.Errorf("%w: data page without its header", errCorrupt)
		}
		values = int64(h.DataPageHeader.V.NumValues)
	case pformat.DataPageV2:
		if !h.DataPageHeaderV2.Valid {
			return 0, 0, fmt.Errorf("%w: data page without its header", errCorrupt)
		}
		v := &h.DataPageHeaderV2.V
		values = int64(v.NumValues)
		rl, dl := int64(v.RepetitionLevelsByteLength), int64(v.DefinitionLevelsByteLength)
		if v.NumNulls < 0 || v.NumRows < 0 || v.NumNulls > v.NumValues || rl < 0 || dl < 0 || rl+dl > comp || rl+dl > uncomp {
			return 0, 0, fmt.Errorf("%w: data page v2 header: %d values, %d nulls, %d rows, levels %d+%d bytes of %d",
				errCorrupt, v.NumValues, v.NumNulls, v.NumRows, rl, dl, comp)
		}
		levels = rl + dl
		compressed = compressed && (!v.IsCompressed.Valid || v.IsCompressed.V)
	case pformat.DictionaryPage:
		if !h.DictionaryPageHeader.Valid {
			return 0, 0, fmt.Errorf("%w: dictionary page without its header", errCorrupt)
		}
		values = int64(h.DictionaryPageHeader.V.NumValues)
	default:
		// parquet-go skips nothing: it fails on other page types (index
		// pages). Reject them here with the same words.
		return 0, 0, fmt.Errorf("cannot read values of type %s from page", h.Type)
	}
	if values < 0 {
		return 0, 0, fmt.Errorf("%w: %d values", errCorrupt, values)
	}
	mem = comp + uncomp + values*valueBytes
	if mem > c.lim.MaxMemory {
		return 0, 0, fmt.Errorf("%w: page of %d values needs about %d MiB, limit %d MiB", errTooLarge, values, mem>>20, c.lim.MaxMemory>>20)
	}
	if compressed {
		if err := c.decompressed(body+levels, comp-levels, uncomp-levels, codec); err != nil {
			return 0, 0, err
		}
	}
	return mem, values, nil
}

// decompressed checks that the n compressed bytes at off decompress to at
// most want bytes, without ever holding more than want+1 of them: parquet-go
// decodes into a buffer of the declared size and grows it, without limit,
// for data that decompresses to more (and for corrupt LZ4, forever).
func (c *pageChecker) decompressed(off, n, want int64, codec pformat.CompressionCodec) error {
	if want < 0 {
		return fmt.Errorf("%w: decompressed size %d", errCorrupt, want)
	}
	if codec == pformat.Snappy {
		// Snappy declares its decoded length up front, and decoding
		// allocates it unless the destination (the declared page size) is
		// large enough.
		var hdr [binary.MaxVarintLen32]byte
		k := min(n, int64(len(hdr)))
		if _, err := c.r.ReadAt(hdr[:k], off); err != nil {
			return fmt.Errorf("reading page: %w", err)
		}
		got, err := snappy.DecodedLen(hdr[:k])
		if err != nil {
			return fmt.Errorf("%w: snappy: %v", errCorrupt, err)
		}
		if int64(got) > want {
			return fmt.Errorf("%w: snappy data of %d bytes in a page of %d", errCorrupt, got, want)
		}
		return nil
	}
	src := make([]byte, n)
	if _, err := c.r.ReadAt(src, off); err != nil {
		return fmt.Errorf("reading page: %w", err)
	}
	var got int64
	var err error
	switch codec {
	case pformat.Lz4Raw:
		dst := make([]byte, want)
		var k int
		k, err = lz4.UncompressBlock(src, dst)
		got = int64(k)
	case pformat.Zstd:
		if c.zstd == nil {
			c.zstd, err = zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true),
				zstd.WithDecoderMaxMemory(uint64(c.lim.MaxPageBytes)), zstd.WithDecodeAllCapLimit(true))
			if err != nil {
				return err
			}
		}
		// MaxMemory also makes DecodeAll refuse a frame that declares more
		// than the limit, which parquet-go's decoder would allocate; the cap
		// limit stops it at want+1 bytes.
		var out []byte
		out, err = c.zstd.DecodeAll(src, make([]byte, 0, want+1))
		got = int64(len(out))
	case pformat.Gzip, pformat.Brotli:
		// One reader per file, reset per page: a brotli reader allocates
		// about 800 KiB.
		var zr io.Reader
		if codec == pformat.Gzip {
			if c.gzip == nil {
				c.gzip, err = gzip.NewReader(bytes.NewReader(src))
			} else {
				err = c.gzip.Reset(bytes.NewReader(src))
			}
			zr = c.gzip
		} else {
			if c.brotli == nil {
				c.brotli = brotli.NewReader(bytes.NewReader(src))
			} else {
				err = c.brotli.Reset(bytes.NewReader(src))
			}
			zr = c.brotli
		}
		if err == nil {
			got, err = io.Copy(io.Discard, io.LimitReader(zr, want+1))
		}
	}
	if err != nil {
		return fmt.Errorf("%w: %s: %v", errCorrupt, codec, err)
	}
	if got > want {
		return fmt.Errorf("%w: %s data decompresses to more than the page's %d bytes", errCorrupt, codec, want)
	}
	return nil
}

// walkThrift walks one thrift compact-protocol struct at the start of b
// without allocating, and returns its length in bytes and how many list,
// set and map elements it holds. Every length and count it declares must fit
// in what is left of b (an element takes at least one byte), so decoding it
// allocates in proportion to len(b), not to the numbers it declares. A
// struct that runs past the end of b is errShortData.
func walkThrift(b []byte) (n int, elems int64, err error) {
	w := thriftWalker{b: b}
	if err := w.value(tStruct, 0); err != nil {
		return 0, 0, err
	}
	return w.pos, w.elems, nil
}

// Compact protocol type codes.
const (
	tTrue   = 1
	tFalse  = 2
	tByte   = 3
	tI16    = 4
	tI32    = 5
	tI64    = 6
	tDouble = 7
	tBinary = 8
	tList   = 9
	tSet    = 10
	tMap    = 11
	tStruct = 12
)

type thriftWalker struct {
	b     []byte
	pos   int
	elems int64
}

func (w *thriftWalker) byte() (byte, error) {
	if w.pos >= len(w.b) {
		return 0, errShortData
	}
	c := w.b[w.pos]
	w.pos++
	return c, nil
}

func (w *thriftWalker) uvarint() (uint64, error) {
	v, k := binary.Uvarint(w.b[w.pos:])
	switch {
	case k == 0:
		return 0, errShortData
	case k < 0:
		return 0, errors.New("thrift: varint overflows 64 bits")
	}
	w.pos += k
	return v, nil
}

// count reads a length or element count and checks that many items of at
// least per bytes each fit in what is left.
func (w *thriftWalker) count(per int) (int, error) {
	v, err := w.uvarint()
	if err != nil {
		return 0, err
	}
	if v > uint64(len(w.b)-w.pos)/uint64(per) {
		if v > 1<<31 {
			return 0, fmt.Errorf("thrift: length %d", v)
		}
		return 0, errShortData
	}
	return int(v), nil
}

func (w *thriftWalker) value(t byte, depth int) error {
	if depth > thriftMaxDepth {
		return fmt.Errorf("thrift: nested deeper than %d", thriftMaxDepth)
	}
	switch t {
	case tTrue, tFalse:
		// In a struct the value is in the field's type; as a list element
		// it is a byte. Callers for lists use tByte.
		return nil
	case tByte:
		_, err := w.byte()
		return err
	case tI16, tI32, tI64:
		_, err := w.uvarint()
		return err
	case tDouble:
		if len(w.b)-w.pos < 8 {
			return errShortData
		}
		w.pos += 8
		return nil
	case tBinary:
		n, err := w.count(1)
		if err != nil {
			return err
		}
		w.pos += n
		return nil
	case tList, tSet:
		h, err := w.byte()
		if err != nil {
			return err
		}
		n := int(h >> 4)
		if n == 15 {
			if n, err = w.count(1); err != nil {
				return err
			}
		}
		et := h & 0x0f
		if et == tTrue || et == tFalse {
			et = tByte
		}
		w.elems += int64(n)
		for range n {
			if err := w.value(et, depth+1); err != nil {
				return err
			}
		}
		return nil
	case tMap:
		n, err := w.count(2)
		if err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		h, err := w.byte()
		if err != nil {
			return err
		}
		kt, vt := h>>4, h&0x0f
		if kt == tTrue || kt == tFalse {
			kt = tByte
		}
		if vt == tTrue || vt == tFalse {
			vt = tByte
		}
		w.elems += int64(n)
		for range n {
			if err := w.value(kt, depth+1); err != nil {
				return err
			}
			if err := w.value(vt, depth+1); err != nil {
				return err
			}
		}
		return nil
	case tStruct:
		for {
			h, err := w.byte()
			if err != nil {
				return err
			}
			if h == 0 {
				return nil
			}
			if h>>4 == 0 { // long form: the field id follows
				if _, err := w.uvarint(); err != nil {
					return err
				}
			}
			if err := w.value(h&0x0f, depth+1); err != nil {
				return err
			}
		}
	}
	return fmt.Errorf("thrift: unknown type %d", t)
}
