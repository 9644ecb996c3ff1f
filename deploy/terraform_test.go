package deploy

import (
	"bytes"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
)

// No terraform binary can fetch the AWS provider here, so these tests read
// deploy/terraform/aws with HCL's own parser: syntax, formatting (what
// `terraform fmt` would change), documented variables, and IAM policies
// limited to the calls Vigil makes.

const terraformDir = "terraform/aws"

type tfModule struct {
	files map[string]*hcl.File
	// blocks of every file, in file order
	blocks []*hclsyntax.Block
}

func loadTerraform(t *testing.T) *tfModule {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(terraformDir, "*.tf"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no .tf files in %s (%v)", terraformDir, err)
	}
	p := hclparse.NewParser()
	m := &tfModule{files: map[string]*hcl.File{}}
	for _, path := range paths {
		f, diags := p.ParseHCLFile(path)
		if diags.HasErrors() {
			t.Fatalf("%s: %s", path, diags.Error())
		}
		m.files[path] = f
		m.blocks = append(m.blocks, f.Body.(*hclsyntax.Body).Blocks...)
	}
	return m
}

func (m *tfModule) find(typ string, labels ...string) []*hclsyntax.Block {
	var out []*hclsyntax.Block
	for _, b := range m.blocks {
		if b.Type == typ && (len(labels) == 0 || slices.Equal(b.Labels[:min(len(labels), len(b.Labels))], labels)) {
			out = append(out, b)
		}
	}
	return out
}

func TestTerraformFilesAreFormatted(t *testing.T) {
	m := loadTerraform(t)
	for path := range m.files {
		src, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := hclwrite.Format(src); !bytes.Equal(got, src) {
			t.Errorf("%s is not formatted as `terraform fmt` would (hclwrite.Format changes it)", path)
		}
	}
}

// TestTerraformVariablesAreDocumented: every variable has a type and a
// description, and the module README lists every variable and output.
func TestTerraformVariablesAreDocumented(t *testing.T) {
	m := loadTerraform(t)
	readme, err := os.ReadFile(filepath.Join(terraformDir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	required := 0
	for _, b := range m.find("variable") {
		name := b.Labels[0]
		attrs := b.Body.Attributes
		for _, a := range []string{"type", "description"} {
			if attrs[a] == nil {
				t.Errorf("variable %q has no %s", name, a)
			}
		}
		if d := attrs["description"]; d != nil {
			if v, diags := d.Expr.Value(nil); diags.HasErrors() || strings.TrimSpace(v.AsString()) == "" {
				t.Errorf("variable %q: description must be a non-empty literal string", name)
			}
		}
		if attrs["default"] == nil {
			required++
		}
		if !bytes.Contains(readme, []byte("`"+name+"`")) {
			t.Errorf("variable %q is not in %s/README.md", name, terraformDir)
		}
	}
	if required == 0 {
		t.Error("no required variables: the bucket names and the image at least must be given")
	}
	for _, b := range m.find("output") {
		if b.Body.Attributes["description"] == nil {
			t.Errorf("output %q has no description", b.Labels[0])
		}
		if !bytes.Contains(readme, []byte("`"+b.Labels[0]+"`")) {
			t.Errorf("output %q is not in %s/README.md", b.Labels[0], terraformDir)
		}
	}
}

// TestTerraformBucketsAreEncryptedWithLifecycle: each of the three buckets
// has server-side encryption, blocked public access and a lifecycle rule.
func TestTerraformBucketsAreEncryptedWithLifecycle(t *testing.T) {
	m := loadTerraform(t)
	bucket := m.find("resource", "aws_s3_bucket", "this")
	if len(bucket) != 1 {
		t.Fatalf("want one resource aws_s3_bucket.this (for_each over the buckets), got %d", len(bucket))
	}
	for _, typ := range []string{"aws_s3_bucket_server_side_encryption_configuration", "aws_s3_bucket_public_access_block"} {
		bs := m.find("resource", typ)
		if len(bs) != 1 || !strings.Contains(exprText(t, m, bs[0].Body.Attributes["for_each"]), "aws_s3_bucket.this") {
			t.Errorf("want one %s with for_each = aws_s3_bucket.this", typ)
		}
	}
	var lifecycled []string
	for _, b := range m.find("resource", "aws_s3_bucket_lifecycle_configuration") {
		lifecycled = append(lifecycled, b.Labels[1])
		if len(b.Body.Blocks) == 0 {
			t.Errorf("lifecycle %s has no rule", b.Labels[1])
		}
	}
	slices.Sort(lifecycled)
	if want := []string{"logs", "registry", "reports"}; !slices.Equal(lifecycled, want) {
		t.Errorf("lifecycle configurations for %v, want %v", lifecycled, want)
	}
}

func exprText(t *testing.T, m *tfModule, a *hclsyntax.Attribute) string {
	t.Helper()
	if a == nil {
		return ""
	}
	r := a.Expr.Range()
	return string(r.SliceBytes(m.files[r.Filename].Bytes))
}

// awsCalls lists the AWS API operations Vigil's Go code calls: every
// <service>.<Op>Input of the SDK's s3 and sagemaker packages named in a
// non-test file of the repository (paginators and waiters take the same
// inputs). With it, the input fields that need further permissions:
// Tags (SageMaker checks sagemaker:AddTags on create) and role ARNs
// (iam:PassRole).
func awsCalls(t *testing.T) (ops map[string]bool, passesRole, tags bool) {
	t.Helper()
	services := map[string]string{
		"github.com/aws/aws-sdk-go-v2/service/s3":        "s3",
		"github.com/aws/aws-sdk-go-v2/service/sagemaker": "sagemaker",
	}
	ops = map[string]bool{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case ".git", ".vigil", "testdata", "deploy", "motoserver", "bench":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		local := map[string]string{} // import name -> service
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			svc, ok := services[p]
			if !ok {
				continue
			}
			name := filepath.Base(p)
			if imp.Name != nil {
				name = imp.Name.Name
			}
			local[name] = svc
		}
		if len(local) == 0 {
			return nil
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.SelectorExpr:
				if id, ok := n.X.(*ast.Ident); ok && local[id.Name] != "" {
					if op, ok := strings.CutSuffix(n.Sel.Name, "Input"); ok && op != "" {
						ops[local[id.Name]+":"+op] = true
					}
				}
			case *ast.CompositeLit:
				sel, ok := n.Type.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				if id, ok := sel.X.(*ast.Ident); !ok || local[id.Name] == "" || !strings.HasSuffix(sel.Sel.Name, "Input") {
					return true
				}
				for _, e := range n.Elts {
					kv, ok := e.(*ast.KeyValueExpr)
					if !ok {
						continue
					}
					switch key, _ := kv.Key.(*ast.Ident); {
					case key == nil:
					case key.Name == "Tags":
						tags = true
					case strings.HasSuffix(key.Name, "RoleArn"):
						passesRole = true
					}
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(ops) == 0 {
		t.Fatal("found no AWS SDK calls in the repository; the scan is broken")
	}
	return ops, passesRole, tags
}

// s3Actions maps S3 operations to the IAM actions that authorize them
// (Amazon S3 User Guide, "Actions, resources, and condition keys for Amazon
// S3"): the operation name is not always the action's. With SSE-KMS, reads
// also need kms:Decrypt and writes kms:GenerateDataKey.
var s3Actions = map[string][]string{
	"ListObjectsV2": {"s3:ListBucket"},
	"ListObjects":   {"s3:ListBucket"},
	"GetObject":     {"s3:GetObject", "kms:Decrypt"},
	"HeadObject":    {"s3:GetObject", "kms:Decrypt"},
	"PutObject":     {"s3:PutObject", "kms:GenerateDataKey", "kms:Decrypt"},
	"DeleteObject":  {"s3:DeleteObject"},
	"DeleteObjects": {"s3:DeleteObject"},
	"CopyObject":    {"s3:GetObject", "s3:PutObject", "kms:Decrypt", "kms:GenerateDataKey"},
}

// workerActions is the least-privilege set for the worker role, derived from
// the code by awsCalls.
func workerActions(t *testing.T) map[string]bool {
	t.Helper()
	ops, passesRole, tags := awsCalls(t)
	out := map[string]bool{}
	for op := range ops {
		svc, name, _ := strings.Cut(op, ":")
		switch svc {
		case "s3":
			actions, ok := s3Actions[name]
			if !ok {
				t.Fatalf("the code calls s3 %s: add its IAM actions to s3Actions", name)
			}
			for _, a := range actions {
				out[a] = true
			}
		case "sagemaker":
			// SageMaker's IAM actions are named as its operations.
			out["sagemaker:"+name] = true
		}
	}
	if tags {
		out["sagemaker:AddTags"] = true
	}
	if passesRole {
		out["iam:PassRole"] = true
	}
	return out
}

// Roles that AWS services assume on Vigil's behalf need the permissions the
// service documents, not calls of Vigil's code: pinned here with their source.
var serviceRoleActions = map[string][]string{
	// SageMaker developer guide, "How to use SageMaker AI execution roles",
	// CreateTrainingJob and CreateModel: read the input channels and the
	// model artifact, write the output, pull the images from ECR, write logs
	// and metrics; kms for SSE-KMS buckets.
	"sagemaker": {"s3:ListBucket", "s3:GetObject", "s3:PutObject", "kms:Decrypt", "kms:GenerateDataKey",
		"ecr:GetAuthorizationToken", "ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage",
		"logs:CreateLogGroup", "logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents", "cloudwatch:PutMetricData"},
	// Amazon ECS developer guide, "Amazon ECS task execution IAM role"
	// (AmazonECSTaskExecutionRolePolicy), plus "Required IAM permissions for
	// Amazon ECS secrets".
	"execution": {"ecr:GetAuthorizationToken", "ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage",
		"logs:CreateLogStream", "logs:PutLogEvents", "secretsmanager:GetSecretValue", "ssm:GetParameters", "kms:Decrypt"},
	// Trust policies.
	"ecs_tasks_assume": {"sts:AssumeRole"},
	"sagemaker_assume": {"sts:AssumeRole"},
}

// policyActions returns the literal actions of every statement (dynamic or
// not) of a policy document.
func policyActions(t *testing.T, doc *hclsyntax.Block) []string {
	t.Helper()
	var out []string
	var visit func(b *hclsyntax.Body, where string)
	visit = func(b *hclsyntax.Body, where string) {
		for _, blk := range b.Blocks {
			switch {
			case blk.Type == "statement":
				a := blk.Body.Attributes["actions"]
				if a == nil {
					t.Errorf("%s: statement without actions", where)
					continue
				}
				if blk.Body.Attributes["not_actions"] != nil {
					t.Errorf("%s: not_actions grants everything else", where)
				}
				v, diags := a.Expr.Value(nil)
				if diags.HasErrors() {
					t.Errorf("%s: actions must be a literal list: %s", where, diags.Error())
					continue
				}
				for _, e := range v.AsValueSlice() {
					out = append(out, e.AsString())
				}
			case blk.Type == "dynamic" && len(blk.Labels) == 1 && blk.Labels[0] == "statement":
				for _, c := range blk.Body.Blocks {
					if c.Type == "content" {
						visit(&hclsyntax.Body{Blocks: []*hclsyntax.Block{{Type: "statement", Body: c.Body}}}, where)
					}
				}
			}
		}
	}
	visit(doc.Body, "data.aws_iam_policy_document."+doc.Labels[1])
	return out
}

// TestTerraformIAMIsLeastPrivilege: the worker's policy grants exactly the
// actions Vigil's code calls, the service roles only what their service
// documents, every policy comes from a policy document this test reads, and
// no wildcard action or managed policy widens them.
func TestTerraformIAMIsLeastPrivilege(t *testing.T) {
	m := loadTerraform(t)
	derived := workerActions(t)
	t.Logf("worker actions derived from the code: %v", slices.Sorted(maps.Keys(derived)))
	for _, want := range []string{"s3:GetObject", "s3:PutObject", "s3:ListBucket", "sagemaker:CreateTrainingJob", "iam:PassRole"} {
		if !derived[want] {
			t.Errorf("derived actions lack %s: the scan of the code is broken", want)
		}
	}

	docs := m.find("data", "aws_iam_policy_document")
	if len(docs) == 0 {
		t.Fatal("no aws_iam_policy_document")
	}
	for _, doc := range docs {
		name := doc.Labels[1]
		allowed := map[string]bool{}
		if name == "worker" {
			allowed = derived
		} else if pinned, ok := serviceRoleActions[name]; ok {
			for _, a := range pinned {
				allowed[a] = true
			}
		} else {
			t.Errorf("policy document %q: unknown to this test; say where its actions come from", name)
			continue
		}
		granted := map[string]bool{}
		for _, a := range policyActions(t, doc) {
			granted[a] = true
			if strings.Contains(a, "*") {
				t.Errorf("policy %s: wildcard action %q", name, a)
			}
			if !allowed[a] {
				t.Errorf("policy %s grants %s, which is not among the actions it needs %v", name, a, slices.Sorted(maps.Keys(allowed)))
			}
		}
		if name == "worker" {
			// And enough: every call of the code is allowed (kms only with a key).
			for a := range derived {
				if !granted[a] {
					t.Errorf("policy worker lacks %s, which the code needs", a)
				}
			}
		}
	}

	if bs := m.find("resource", "aws_iam_role_policy_attachment"); len(bs) > 0 {
		t.Errorf("managed policy attachments (%d) bypass the policy documents", len(bs))
	}
	for _, b := range m.find("resource", "aws_iam_role_policy") {
		pol := exprText(t, m, b.Body.Attributes["policy"])
		if !strings.HasPrefix(pol, "data.aws_iam_policy_document.") || !strings.HasSuffix(pol, ".json") {
			t.Errorf("aws_iam_role_policy.%s: policy = %s; use a data.aws_iam_policy_document", b.Labels[1], pol)
		}
	}
	for path, f := range m.files {
		if bytes.Contains(f.Bytes, []byte(`"Action"`)) {
			t.Errorf("%s: a JSON policy (\"Action\") escapes this test; use aws_iam_policy_document", path)
		}
	}
}

// TestTerraformTaskRunsTheWorker: the Fargate task runs the worker on the
// config it is given, reads secrets by ARN and listens where the security
// group opens.
func TestTerraformTaskRunsTheWorker(t *testing.T) {
	m := loadTerraform(t)
	td := m.find("resource", "aws_ecs_task_definition", "worker")
	if len(td) != 1 {
		t.Fatal("no aws_ecs_task_definition.worker")
	}
	body := td[0].Body.Attributes
	for attr, want := range map[string]string{
		"task_role_arn":      "aws_iam_role.worker.arn",
		"execution_role_arn": "aws_iam_role.execution.arn",
		"network_mode":       `"awsvpc"`,
	} {
		if got := exprText(t, m, body[attr]); got != want {
			t.Errorf("task definition %s = %s, want %s", attr, got, want)
		}
	}
	defs := exprText(t, m, body["container_definitions"])
	for _, want := range []string{
		`readonlyRootFilesystem = true`,
		`"-config", "${local.config_dir}/vigil.yaml"`,
		`valueFrom = var.secrets[k]`,
		`condition = "SUCCESS"`,
		`containerPath = "/tmp"`,
	} {
		if !strings.Contains(defs, want) {
			t.Errorf("container_definitions lack %s", want)
		}
	}
	locals := ""
	for _, b := range m.find("locals") {
		locals += exprText(t, m, b.Body.Attributes["worker_environment"])
	}
	for _, env := range []string{"VIGIL_TEMPORAL_ADDRESS", "VIGIL_HTTP_ADDR", "VIGIL_TEMPORAL_NAMESPACE"} {
		if !strings.Contains(locals, env) {
			t.Errorf("local.worker_environment does not set %s", env)
		}
	}
}

// TestTerraformReferencesResolve does part of `terraform validate` without
// providers: every var., local., data. and resource reference names
// something the module declares, and every variable is used.
func TestTerraformReferencesResolve(t *testing.T) {
	m := loadTerraform(t)
	declared := map[string]bool{}
	for _, b := range m.blocks {
		switch b.Type {
		case "variable":
			declared["var."+b.Labels[0]] = true
		case "locals":
			for name := range b.Body.Attributes {
				declared["local."+name] = true
			}
		case "resource":
			declared[b.Labels[0]+"."+b.Labels[1]] = true
		case "data":
			declared["data."+b.Labels[0]+"."+b.Labels[1]] = true
		}
	}
	used := map[string]bool{}
	var visit func(body *hclsyntax.Body, isVariable bool)
	visit = func(body *hclsyntax.Body, isVariable bool) {
		for _, a := range body.Attributes {
			if isVariable && a.Name == "type" {
				continue // a type constraint (string, list(string)), not a reference
			}
			for _, tr := range a.Expr.Variables() {
				var parts []string
				for _, step := range tr {
					switch s := step.(type) {
					case hcl.TraverseRoot:
						parts = append(parts, s.Name)
					case hcl.TraverseAttr:
						parts = append(parts, s.Name)
					}
					if len(parts) == 3 {
						break
					}
				}
				ref := ""
				switch root := parts[0]; {
				case root == "var" || root == "local":
					ref = root + "." + parts[1]
				case root == "data":
					ref = strings.Join(parts[:3], ".")
				case strings.HasPrefix(root, "aws_"):
					ref = root + "." + parts[1]
				case root == "each" || root == "count" || root == "path" || root == "terraform":
					continue
				default:
					t.Errorf("%s: reference to %s: unknown kind of name", a.SrcRange, root)
					continue
				}
				used[ref] = true
				if !declared[ref] {
					t.Errorf("%s: %s is not declared in the module", a.SrcRange, ref)
				}
			}
		}
		for _, b := range body.Blocks {
			visit(b.Body, b.Type == "variable")
		}
	}
	for _, f := range m.files {
		visit(f.Body.(*hclsyntax.Body), false)
	}
	for ref := range declared {
		if strings.HasPrefix(ref, "var.") && !used[ref] {
			t.Errorf("%s is declared but never used", ref)
		}
	}
}
