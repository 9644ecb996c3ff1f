package slack

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/slack-go/slack"

	"github.com/vigilml/vigil/notify"
)

// Action IDs of the head message's buttons, handled by InteractionHandler.
const (
	ActionAck     = "vigil_ack"
	ActionSilence = "vigil_silence"
)

// SilenceFor is how long the Silence button silences a rule.
const SilenceFor = "2h"

// buttonValue is what the buttons carry back to InteractionHandler.
type buttonValue struct {
	Model    string `json:"model"`
	Rule     string `json:"rule"`
	Incident string `json:"incident"`
	Duration string `json:"duration,omitempty"`
}

// state is the incident's state as the head message shows it.
func state(ev notify.Event) string {
	switch {
	case ev.Kind == notify.KindTest:
		return ":test_tube: *Test notification* from `starter notify test`: nothing is wrong."
	case ev.Kind == notify.KindResolve:
		return fmt.Sprintf(":white_check_mark: *Resolved* %s", stamp(ev))
	case ev.AckedBy != "" || ev.Kind == notify.KindAcknowledge:
		who := ev.AckedBy
		if who == "" {
			who = ev.Actor
		}
		return fmt.Sprintf(":eyes: *Acknowledged* by %s", who)
	case ev.Kind == notify.KindEscalate:
		return ":rotating_light: *Escalated*: not acknowledged in time, paging on-call"
	default:
		return ":red_circle: *Open*: press Acknowledge to take it"
	}
}

func stamp(ev notify.Event) string {
	if ev.At.IsZero() {
		return ""
	}
	return "at " + ev.At.UTC().Format("2006-01-02 15:04 UTC")
}

func emoji(ev notify.Event) string {
	switch {
	case ev.Kind == notify.KindTest:
		return ":test_tube:"
	case ev.Kind == notify.KindResolve:
		return ":white_check_mark:"
	case ev.Severity == "critical":
		return ":red_circle:"
	case ev.Severity == "warning":
		return ":large_orange_circle:"
	default:
		return ":large_blue_circle:"
	}
}

func fallbackText(ev notify.Event) string {
	return esc(plainText(ev))
}

func plainText(ev notify.Event) string {
	s := ev.Title()
	if f := ev.Figures(); f != "" {
		s += ": " + f
	}
	if ev.Kind == notify.KindResolve {
		s = "Resolved " + s
	}
	return s
}

func replyText(ev notify.Event) string { return esc(replyPlain(ev)) }

func replyPlain(ev notify.Event) string {
	var s string
	switch ev.Kind {
	case notify.KindAcknowledge:
		s = "Acknowledged by " + ev.Actor
	case notify.KindEscalate:
		s = "Not acknowledged in time: escalated to on-call"
	case notify.KindResolve:
		s = "Resolved"
	case notify.KindUpdate:
		s = "Update"
	default:
		s = string(ev.Kind)
	}
	if f := ev.Figures(); f != "" {
		s += ": " + f
	}
	if ev.Summary != "" {
		s += "\n" + ev.Summary
	}
	return s
}

// esc escapes the three characters Slack's mrkdwn gives meaning to.
var esc = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace

func mrkdwn(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.MarkdownType, s, false, false)
}

// headBlocks renders the incident's head message. Interactive adds the
// Acknowledge and Silence buttons (bot mode only: they need the app's
// interactivity endpoint).
func headBlocks(ev notify.Event, interactive bool) []slack.Block {
	title := fmt.Sprintf("%s %s: %s", emoji(ev), ev.Model, ev.Rule)
	if ev.Kind == notify.KindTest {
		title = "[TEST] " + title
	}
	blocks := []slack.Block{
		slack.NewHeaderBlock(slack.NewTextBlockObject(slack.PlainTextType, title, true, false)),
	}
	var fields []*slack.TextBlockObject
	add := func(k, v string) {
		if v != "" {
			fields = append(fields, mrkdwn("*"+k+"*\n"+v))
		}
	}
	version := ev.ModelVersion
	add("Model", "`"+ev.Model+"`"+ifNotEmpty(" version `", version, "`"))
	add("Rule", "`"+ev.Rule+"` ("+ev.Severity+")")
	if ev.Metric != "" {
		add("Observed", fmt.Sprintf("`%s` = *%.4g*", ev.Metric, ev.Value))
		add("Threshold", esc(ev.Threshold))
	}
	add("Window", ev.Window())
	blocks = append(blocks, slack.NewSectionBlock(nil, fields, nil))
	if len(ev.TopDrifted) > 0 {
		blocks = append(blocks, slack.NewSectionBlock(mrkdwn("*Top drifted features:* `"+strings.Join(ev.TopDrifted, "`, `")+"`"), nil, nil))
	}
	if len(ev.WeakSegments) > 0 {
		lines := make([]string, len(ev.WeakSegments))
		for i, s := range ev.WeakSegments {
			lines[i] = "• " + esc(s)
		}
		blocks = append(blocks, slack.NewSectionBlock(mrkdwn("*Weakest segments:*\n"+strings.Join(lines, "\n")), nil, nil))
	}
	if ev.Summary != "" {
		blocks = append(blocks, slack.NewSectionBlock(mrkdwn(esc(ev.Summary)), nil, nil))
	}
	blocks = append(blocks, slack.NewContextBlock("state", mrkdwn(state(ev))))

	var buttons []slack.BlockElement
	open := ev.Kind != notify.KindResolve && ev.Kind != notify.KindTest
	if interactive && open {
		if ev.AckedBy == "" && ev.Kind != notify.KindAcknowledge {
			buttons = append(buttons, slack.NewButtonBlockElement(ActionAck, value(ev, ""),
				slack.NewTextBlockObject(slack.PlainTextType, "Acknowledge", false, false)).WithStyle(slack.StylePrimary))
		}
		buttons = append(buttons, slack.NewButtonBlockElement(ActionSilence, value(ev, SilenceFor),
			slack.NewTextBlockObject(slack.PlainTextType, "Silence "+SilenceFor, false, false)))
	}
	if ev.WorkflowURL != "" {
		buttons = append(buttons, slack.NewButtonBlockElement("vigil_open_workflow", "",
			slack.NewTextBlockObject(slack.PlainTextType, "Workflow", false, false)).WithURL(ev.WorkflowURL))
	}
	if ev.ReportURL != "" {
		buttons = append(buttons, slack.NewButtonBlockElement("vigil_open_report", "",
			slack.NewTextBlockObject(slack.PlainTextType, "Report", false, false)).WithURL(ev.ReportURL))
	}
	if len(buttons) > 0 {
		blocks = append(blocks, slack.NewActionBlock("vigil_actions", buttons...))
	}
	return blocks
}

func ifNotEmpty(pre, v, post string) string {
	if v == "" {
		return ""
	}
	return pre + v + post
}

func value(ev notify.Event, d string) string {
	b, _ := json.Marshal(buttonValue{Model: ev.Model, Rule: ev.Rule, Incident: ev.IncidentID, Duration: d})
	return string(b)
}
