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

/** The text before the first expression: two templates whose literal prefixes nest can match the same URI. */
export function literalPrefix(template: string): string {
  const brace = template.indexOf("{");
  return brace === -1 ? template : template.slice(0, brace);
}

/** Literal characters of the template: `file:///logs/{name}` is more specific than `file:///{+path}`. */
export function templateSpecificity(template: string): number {
  return template.replace(EXPRESSION, "").length;
}
