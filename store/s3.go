package store

import (
	"bytes"
	"context"
	"io"
	"path"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// S3Client is the store's S3 client, built on first use as s3client says;
// other S3 readers of the worker (lineage hashing) share it, so they see the
// same endpoint, region and credentials as the store.
func (s *Store) S3Client(ctx context.Context) (*s3.Client, error) { return s.s3client(ctx) }

// s3client builds the S3 client on first use: the AWS default credential
// chain (environment, shared config, SSO, instance/task role), the region from
// storage.s3.region (else the chain's), and storage.s3.endpoint/path_style for
// MinIO and other S3-compatible stores. The SDK's standard retryer retries
// throttling, 5xx and connection errors with backoff.
func (s *Store) s3client(ctx context.Context) (*s3.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.s3 != nil {
		return s.s3, nil
	}
	var opts []func(*awsconfig.LoadOptions) error
	if s.cfg.S3.Region != "" {
		opts = append(opts, awsconfig.WithRegion(s.cfg.S3.Region))
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, permanentf("load AWS configuration: %w", err)
	}
	if awsCfg.Region == "" {
		awsCfg.Region = "us-east-1" // S3-compatible stores rarely care
	}
	s3cfg := s.cfg.S3
	s.s3 = s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		if s3cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(s3cfg.Endpoint)
		}
		o.UsePathStyle = s3cfg.PathStyle
		// Checksums only when the operation requires them: many
		// S3-compatible stores reject the newer default trailers.
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	})
	return s.s3, nil
}

// s3Backend is a bucket and key prefix.
type s3Backend struct {
	client *s3.Client
	bucket string
	prefix string // no leading or trailing slash; may be empty
}

func (b *s3Backend) key(k string) string {
	if b.prefix == "" {
		return k
	}
	return b.prefix + "/" + k
}

func (b *s3Backend) uri(k string) string {
	return "s3://" + path.Join(b.bucket, b.key(k))
}

func (b *s3Backend) list(ctx context.Context, prefix string, fn func(object) error) error {
	full := b.key(prefix)
	if prefix == "" && b.prefix != "" {
		full = b.prefix + "/"
	}
	p := s3.NewListObjectsV2Paginator(b.client, &s3.ListObjectsV2Input{
		Bucket: aws.String(b.bucket),
		Prefix: aws.String(full),
	})
	strip := ""
	if b.prefix != "" {
		strip = b.prefix + "/"
	}
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return classify("list", b.uri(prefix), err)
		}
		for _, o := range page.Contents {
			k := strings.TrimPrefix(aws.ToString(o.Key), strip)
			if k == "" || strings.HasSuffix(k, "/") {
				continue // directory markers
			}
			if err := fn(object{Key: k, Size: aws.ToInt64(o.Size), ModTime: aws.ToTime(o.LastModified)}); err != nil {
				return err
			}
		}
	}
	return nil
}

func (b *s3Backend) dirs(ctx context.Context, prefix string) ([]string, error) {
	full := b.key(prefix)
	if prefix == "" && b.prefix != "" {
		full = b.prefix + "/"
	}
	p := s3.NewListObjectsV2Paginator(b.client, &s3.ListObjectsV2Input{
		Bucket:    aws.String(b.bucket),
		Prefix:    aws.String(full),
		Delimiter: aws.String("/"),
	})
	var out []string
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, classify("list", b.uri(prefix), err)
		}
		for _, cp := range page.CommonPrefixes {
			name := strings.TrimSuffix(strings.TrimPrefix(aws.ToString(cp.Prefix), full), "/")
			if name != "" {
				out = append(out, name)
			}
		}
	}
	return out, nil
}

func (b *s3Backend) open(ctx context.Context, key string) (io.ReadCloser, error) {
	out, err := b.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(b.bucket), Key: aws.String(b.key(key))})
	if err != nil {
		return nil, classify("get", b.uri(key), err)
	}
	return out.Body, nil
}

// put is a single PutObject, which S3 makes visible atomically.
func (b *s3Backend) put(ctx context.Context, key string, data []byte) error {
	_, err := b.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket:        aws.String(b.bucket),
		Key:           aws.String(b.key(key)),
		Body:          bytes.NewReader(data),
		ContentLength: aws.Int64(int64(len(data))),
	})
	return classify("put", b.uri(key), err)
}

func (b *s3Backend) remove(ctx context.Context, key string) error {
	_, err := b.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(b.bucket), Key: aws.String(b.key(key))})
	return classify("delete", b.uri(key), err)
}
