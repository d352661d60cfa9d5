// Matches concrete resource URIs against RFC 6570 URI templates, so that resources/read of a
// templated URI is routed to the server that listed the template.

const EXPRESSION = /\{([+#./;?&]?)([^}]*)\}/g;

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

export function compileUriTemplate(template: string): RegExp {
  let pattern = "";
  let last = 0;
  for (const match of template.matchAll(EXPRESSION)) {
    pattern += escapeRegExp(template.slice(last, match.index));
    const operator = match[1];
    if (operator === "?" || operator === "&") pattern += "(?:[?&][^#]*)?";
    else if (operator === "+" || operator === "#") pattern += ".*";
    else pattern += "[^/?#]*";
    last = match.index + match[0].length;
  }
  pattern += escapeRegExp(template.slice(last));
  return new RegExp(`^${pattern}$`);
}
