package notify

import (
	"github.com/vigilml/vigil/config"
)

// Route says which integrations hear about an incident of the given
// severity: first at once (KindTrigger), escalate when it is not
// acknowledged within the rule's escalate_after (KindEscalate).
//
// cfg should come from config.Load, which fills the default routes (chat
// integrations first; pagers on escalation for critical). An unknown
// severity, or a config without routes, falls back to those defaults.
func Route(cfg config.Notify, severity string) (first, escalate []string) {
	r, ok := cfg.Routes[severity]
	if !ok {
		return defaultRoute(cfg, severity)
	}
	return append([]string(nil), r.Notify...), append([]string(nil), r.Escalate...)
}

func defaultRoute(cfg config.Notify, severity string) (first, escalate []string) {
	for _, name := range cfg.Integrations() {
		switch name {
		case "pagerduty", "opsgenie":
			if severity == "critical" {
				escalate = append(escalate, name)
			}
		default:
			first = append(first, name)
		}
	}
	return first, escalate
}
