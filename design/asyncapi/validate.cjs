// Validate an AsyncAPI document with the AsyncAPI Initiative's parser (@asyncapi/parser, pinned
// in package.json beside this file; `make asyncapi-validator` installs it into .cache/asyncapi).
// Usage: node design/asyncapi/validate.cjs FILE. Relative $refs are read from the disk (the
// document has no other kind, which the test checks). Prints every diagnostic; exits 1 when one
// is an error, 0 otherwise.
"use strict";
const path = require("path");
const { Parser, fromFile, DiagnosticSeverity } = require("@asyncapi/parser");

const parser = new Parser();

async function main(file) {
  const { document, diagnostics } = await fromFile(parser, path.resolve(file)).parse();
  const names = ["error", "warning", "information", "hint"];
  for (const d of diagnostics) {
    const where = (d.path || []).join("/");
    console.log(`${names[d.severity]}: ${d.code}: ${d.message} at /${where}`);
  }
  const errors = diagnostics.filter((d) => d.severity === DiagnosticSeverity.Error);
  if (errors.length || !document) {
    console.log(`${file}: INVALID (${errors.length} errors)`);
    return 1;
  }
  console.log(`${file}: valid AsyncAPI ${document.version()}`);
  return 0;
}

main(process.argv[2]).then(
  (code) => process.exit(code),
  (error) => {
    console.error(error);
    process.exit(2);
  },
);
