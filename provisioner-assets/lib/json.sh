# shellcheck shell=bash
# JSON output without jq.

# json_string TEXT: prints TEXT as a JSON string literal. Bytes are kept as they are (UTF-8 passes
# through); quotes, backslashes and control characters are escaped.
json_string() {
  local LC_ALL=C
  local text=$1 code char escape
  text=${text//\\/\\\\}
  text=${text//\"/\\\"}
  text=${text//$'\n'/\\n}
  text=${text//$'\r'/\\r}
  text=${text//$'\t'/\\t}
  for ((code = 1; code < 32; code++)); do
    printf -v char '%b' "\\x$(printf '%02x' "$code")"
    [[ $text == *"$char"* ]] || continue
    printf -v escape '\\u%04x' "$code"
    text=${text//"$char"/"$escape"}
  done
  printf '"%s"' "$text"
}
