package sentryreport

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strconv"

	"github.com/getsentry/sentry-go"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// Interceptor returns the worker interceptor that reports activity
// failures and workflow task panics.
//
// Activities: every failed attempt is reported (level error when the error
// is non-retryable, warning when Temporal will retry it, fatal for a
// panic), grouped per activity type and error type; cancellations are not
// failures and are not reported.
//
// Workflows: a panic in workflow code (or a signal or update handler) fails
// the workflow task, which Temporal retries forever; it is reported once
// per occurrence and re-raised so the SDK handles it as before. Nothing is
// reported while the workflow is replaying history: the panic that
// happened live was reported then, and replays happen on every worker that
// picks the workflow up.
func (r *Reporter) Interceptor() interceptor.WorkerInterceptor {
	return &workerInterceptor{r: r, replaying: workflow.IsReplaying}
}

type workerInterceptor struct {
	interceptor.WorkerInterceptorBase
	r         *Reporter
	replaying func(workflow.Context) bool
}

func (w *workerInterceptor) InterceptActivity(ctx context.Context, next interceptor.ActivityInboundInterceptor) interceptor.ActivityInboundInterceptor {
	i := &activityInbound{r: w.r}
	i.Next = next
	return i
}

func (w *workerInterceptor) InterceptWorkflow(ctx workflow.Context, next interceptor.WorkflowInboundInterceptor) interceptor.WorkflowInboundInterceptor {
	i := &workflowInbound{w: w}
	i.Next = next
	return i
}

type activityInbound struct {
	interceptor.ActivityInboundInterceptorBase
	r *Reporter
}

func (a *activityInbound) ExecuteActivity(ctx context.Context, in *interceptor.ExecuteActivityInput) (res any, err error) {
	info := activity.GetInfo(ctx)
	tags := map[string]string{
		TagSource: "activity", TagActivityType: info.ActivityType.Name, TagWorkflowType: info.WorkflowType.Name,
		TagWorkflowID: info.WorkflowExecution.ID, TagAttempt: strconv.Itoa(int(info.Attempt)), TagModel: modelOf(in.Args),
	}
	defer func() {
		if p := recover(); p != nil {
			a.r.capture(sentry.LevelFatal, "activity "+info.ActivityType.Name+" panicked", fmt.Errorf("panic: %v", p), tags, sentry.NewStacktrace())
			panic(p)
		}
	}()
	res, err = a.Next.ExecuteActivity(ctx, in)
	if err == nil || temporal.IsCanceledError(err) || errors.Is(err, context.Canceled) {
		return res, err
	}
	level := sentry.LevelWarning
	var app *temporal.ApplicationError
	if errors.As(err, &app) && app.NonRetryable() {
		level = sentry.LevelError
	}
	a.r.capture(level, "activity "+info.ActivityType.Name+" failed", err, tags, nil)
	return res, err
}

type workflowInbound struct {
	interceptor.WorkflowInboundInterceptorBase
	w *workerInterceptor
}

func (i *workflowInbound) report(ctx workflow.Context, what string, model string) {
	p := recover()
	if p == nil {
		return
	}
	if !i.w.replaying(ctx) {
		info := workflow.GetInfo(ctx)
		tags := map[string]string{TagSource: "workflow", TagWorkflowType: info.WorkflowType.Name,
			TagWorkflowID: info.WorkflowExecution.ID, TagModel: model, TagAttempt: strconv.Itoa(int(info.Attempt))}
		i.w.r.capture(sentry.LevelFatal, "workflow "+info.WorkflowType.Name+" panicked in "+what, fmt.Errorf("panic: %v", p), tags, sentry.NewStacktrace())
	}
	panic(p)
}

func (i *workflowInbound) ExecuteWorkflow(ctx workflow.Context, in *interceptor.ExecuteWorkflowInput) (any, error) {
	defer i.report(ctx, "its code", modelOf(in.Args))
	return i.Next.ExecuteWorkflow(ctx, in)
}

func (i *workflowInbound) HandleSignal(ctx workflow.Context, in *interceptor.HandleSignalInput) error {
	defer i.report(ctx, "signal "+in.SignalName, "")
	return i.Next.HandleSignal(ctx, in)
}

func (i *workflowInbound) ExecuteUpdate(ctx workflow.Context, in *interceptor.UpdateInput) (any, error) {
	defer i.report(ctx, "update "+in.Name, "")
	return i.Next.ExecuteUpdate(ctx, in)
}

// modelOf is the Model (or Name) string field of the first argument, the
// XxxInput struct every Vigil activity and workflow takes; no other field
// is read.
func modelOf(args []any) string {
	if len(args) == 0 {
		return ""
	}
	v := reflect.ValueOf(args[0])
	for v.Kind() == reflect.Pointer && !v.IsNil() {
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return ""
	}
	for _, name := range []string{"Model", "ModelName"} {
		if f := v.FieldByName(name); f.IsValid() && f.Kind() == reflect.String {
			return f.String()
		}
	}
	return ""
}
