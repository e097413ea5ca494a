#!/usr/bin/env bash
# Doc-drift check: the config keys the program knows (`sms-milter help config`, generated from
# the key table) must be exactly the keys documented in packaging/sms-milter.conf.5, each with
# the table's default, and shown in conf-examples/sms-milter.conf, and that example must pass
# `sms-milter check`.
#
# usage: check_docs.sh BINARY REPO_ROOT
# Exit 0 when everything agrees, 1 on any drift (each problem printed), 2 on a usage error.
set -euo pipefail

if [[ $# -ne 2 ]]; then
    echo "usage: $0 BINARY REPO_ROOT" >&2
    exit 2
fi
bin=$1
root=$2
man5=$root/packaging/sms-milter.conf.5
example=$root/conf-examples/sms-milter.conf
for f in "$bin" "$man5" "$example"; do
    if [[ ! -e $f ]]; then
        echo "check_docs: $f: not found" >&2
        exit 2
    fi
done

failures=0
fail() {
    echo "check_docs: $*" >&2
    failures=$((failures + 1))
}

# Keys: lines of `help config` that do not start with white space, "name = default".
help_text=$("$bin" help config)
mapfile -t keys < <(sed -n -E 's/^([A-Za-z0-9_]+) =.*/\1/p' <<<"$help_text")
if [[ ${#keys[@]} -lt 10 ]]; then
    fail "'$bin help config' listed only ${#keys[@]} keys; is the output format still 'name = default'?"
    exit 1
fi
is_key() {
    local k
    for k in "${keys[@]}"; do [[ $k == "$1" ]] && return 0; done
    return 1
}

# Keys documented in the man page: ".TP" followed by ".B key". Keys set or shown in the
# example: "key =" or "#key =" at the start of a line.
mapfile -t man_keys < <(awk 'prev == ".TP" && $1 == ".B" && $2 ~ /^[a-z0-9_]+$/ { print $2 } { prev = $0 }' "$man5")
mapfile -t example_keys < <(sed -n -E 's/^#?[[:space:]]*([A-Za-z0-9_]+)[[:space:]]*=.*/\1/p' "$example")

in_list() {
    local needle=$1 item
    shift
    for item in "$@"; do [[ $item == "$needle" ]] && return 0; done
    return 1
}

for k in "${keys[@]}"; do
    in_list "$k" "${man_keys[@]}" || fail "key $k is not documented in $man5 (no '.TP' / '.B $k' entry)"
    in_list "$k" "${example_keys[@]}" || fail "key $k is missing from $example (want '$k = ...' or '#$k = ...')"
done
for k in "${man_keys[@]}"; do
    is_key "$k" || fail "$man5 documents $k, which is not a config key"
done
for k in "${example_keys[@]}"; do
    is_key "$k" || fail "$example names $k, which is not a config key"
done

# Each key's default in the man page is the table's: "Default:" then the value (on the line
# after, as .B/.BR), or the words "none" or "empty" for a key whose default is empty; and a
# key the table says needs a restart says "Needs a restart to change.", no other key does.
defaults_py=$(cat <<'PYTHON'
import re, sys
man = open(sys.argv[1]).read().split("\n")
table, restart, key = {}, set(), None
for line in open(sys.argv[2]).read().split("\n"):
    m = re.match(r"^([a-z0-9_]+) = ?(.*)$", line)
    if m:
        key = m.group(1)
        table[key] = m.group(2).strip()
    elif key and re.match(r"^    \([^)]*; needs a restart\)", line):
        restart.add(key)
bad = 0
# "Needs a restart to change." in an entry exactly for the keys the table says so of.
entries, current = {}, None
for i, line in enumerate(man):
    if line == ".TP" and i + 1 < len(man) and man[i + 1].startswith(".B "):
        current = man[i + 1][3:].strip()
        entries[current] = ""
    elif line.startswith(".SH "):
        current = None
    elif current:
        entries[current] += line + "\n"
for key, text in entries.items():
    if key in table and ("Needs a restart to change." in text) != (key in restart):
        print("  %s: the table says %s, the man page %s" % (
            key, "it needs a restart" if key in restart else "a reload applies it",
            "says it needs a restart" if key not in restart else "does not say so "
            "(\"Needs a restart to change.\")"))
        bad += 1
for i, line in enumerate(man):
    if line != ".TP" or i + 2 >= len(man) or not man[i + 1].startswith(".B "):
        continue
    key = man[i + 1][3:].strip()
    if key not in table or not man[i + 2].startswith("Default:"):
        continue
    rest = man[i + 2][len("Default:"):].strip()
    if rest:
        said = None if re.match(r"^(none|empty)\b", rest) else rest
    else:
        m = re.match(r'^\.BR? "?(.*?)"?( \.)?$', man[i + 3])
        said = m.group(1).replace("\\-", "-") if m else man[i + 3]
    want = table[key] or None
    if said != want:
        print("  %s: the man page says %r, the table %r" % (key, said or "none/empty", want or ""))
        bad += 1
sys.exit(1 if bad else 0)
PYTHON
)
if ! out=$(python3 -c "$defaults_py" "$man5" <(printf '%s\n' "$help_text") 2>&1); then
    fail "defaults in $man5 differ from '$bin help config':"
    printf '%s\n' "$out" >&2
fi

# The man page's CARRIER DOMAINS list is the program's list, line for line.
man_carriers=$(sed -n '/carrier-domains: begin/,/carrier-domains: end/{/^\.\\"/d;s/\\-/-/g;p}' "$man5")
if [[ $man_carriers != "$("$bin" help carrier-domains)" ]]; then
    fail "the CARRIER DOMAINS list in $man5 differs from '$bin help carrier-domains':"
    diff <(printf '%s\n' "$man_carriers") <("$bin" help carrier-domains) >&2 || true
fi

# The man page's METRICS list (sms-milter.8, between the "metrics: begin/end" comments, one
# ".TP" / ".B name" entry each) names exactly the metrics of `help metrics`, in its order.
man8=$root/packaging/sms-milter.8
man_metrics=$(sed -n '/metrics: begin/,/metrics: end/p' "$man8" |
    awk 'prev == ".TP" && $1 == ".B" { print $2 } { prev = $0 }')
bin_metrics=$("$bin" help metrics | cut -d' ' -f1)
if [[ -z $bin_metrics ]]; then
    fail "'$bin help metrics' listed no metrics"
elif [[ $man_metrics != "$bin_metrics" ]]; then
    fail "the METRICS list in $man8 differs from '$bin help metrics' (< man page, > program):"
    diff <(printf '%s\n' "$man_metrics") <(printf '%s\n' "$bin_metrics") >&2 || true
fi

# Both man pages render without a groff warning (an undefined macro is text that vanishes).
for page in "$man5" "$man8"; do
    if ! warnings=$(groff -man -ww -z "$page" 2>&1) || [[ -n $warnings ]]; then
        fail "groff warns about $page:"
        printf '%s\n' "$warnings" >&2
    fi
done

# The example must be a valid config once its secret file and state directory exist.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf 'example-secret\n' >"$tmp/secret"
chmod 600 "$tmp/secret"
sed -E \
    -e "s|^([[:space:]]*twilio_auth_token_file[[:space:]]*=).*|\1 $tmp/secret|" \
    -e "s|^([[:space:]]*twilio_api_key_secret_file[[:space:]]*=).*|\1 $tmp/secret|" \
    -e "s|^([[:space:]]*state_directory[[:space:]]*=).*|\1 $tmp/state|" \
    "$example" >"$tmp/sms-milter.conf"
if ! grep -q -E '^[[:space:]]*state_directory[[:space:]]*=' "$tmp/sms-milter.conf"; then
    printf 'state_directory = %s\n' "$tmp/state" >>"$tmp/sms-milter.conf"
fi
if ! grep -q "$tmp/secret" "$tmp/sms-milter.conf"; then
    fail "$example sets no secret file (twilio_auth_token_file or twilio_api_key_secret_file)"
fi
# --user: the files here are private to whoever runs this, as they would be to the daemon.
if ! out=$("$bin" check --user "$(id -un)" -c "$tmp/sms-milter.conf" 2>&1); then
    fail "$example does not pass '$bin check' (secret file and state directory replaced):"
    printf '%s\n' "$out" | sed "s|$tmp/sms-milter.conf|$example (copy)|" >&2
fi

if [[ $failures -gt 0 ]]; then
    echo "check_docs: $failures problem(s)" >&2
    exit 1
fi
echo "check_docs: ok (${#keys[@]} keys)"
