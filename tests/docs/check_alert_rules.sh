#!/usr/bin/env bash
# The Prometheus files in conf-examples/, exactly as shipped: the alert rules pass
# `promtool check rules` and their unit tests (`promtool test rules`,
# tests/docs/sms-milter-alerts.test.yml), the scrape job passes `promtool check config`, and
# every sms_milter_* metric the rules name is one the program exposes (`help metrics`).
#
# usage: check_alert_rules.sh BINARY REPO_ROOT
# Exit 0 when all pass, 1 on any failure, 2 on a usage error or without promtool.
set -euo pipefail

if [[ $# -ne 2 ]]; then
    echo "usage: $0 BINARY REPO_ROOT" >&2
    exit 2
fi
bin=$1
root=$2
rules=$root/conf-examples/sms-milter-alerts.yml
scrape=$root/conf-examples/prometheus.yml
unit=$root/tests/docs/sms-milter-alerts.test.yml
if ! command -v promtool >/dev/null; then
    echo "check_alert_rules: promtool not found (Debian package prometheus; tools/install-deps.sh test)" >&2
    exit 2
fi

failures=0
fail() {
    echo "check_alert_rules: $*" >&2
    failures=$((failures + 1))
}

promtool check rules "$rules" || fail "promtool check rules $rules failed"
promtool test rules "$unit" || fail "promtool test rules $unit failed"
# prometheus.yml names the rules file relative to itself, as it would be installed.
promtool check config "$scrape" || fail "promtool check config $scrape failed"

mapfile -t known < <("$bin" help metrics | cut -d' ' -f1)
if [[ ${#known[@]} -lt 5 ]]; then
    fail "'$bin help metrics' listed only ${#known[@]} metrics"
fi
mapfile -t used < <(grep -o -E 'sms_milter_[a-z_]+' "$rules" | sort -u)
for m in "${used[@]}"; do
    base=${m%_bucket}
    base=${base%_count}
    base=${base%_sum}
    found=0
    for k in "${known[@]}"; do [[ $k == "$m" || $k == "$base" ]] && found=1; done
    [[ $found -eq 1 ]] || fail "$rules uses $m, which '$bin help metrics' does not list"
done

if [[ $failures -gt 0 ]]; then
    echo "check_alert_rules: $failures problem(s)" >&2
    exit 1
fi
echo "check_alert_rules: ok (${#used[@]} metrics used by the rules)"
