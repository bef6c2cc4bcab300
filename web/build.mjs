// Builds the web app into the Python package (src/bifrost/web/static/assets/), where it is
// committed: installing Bifrost never needs Node. `make web` runs this after `npm ci`.
// The licences of every npm package in the bundle go beside it (THIRD-PARTY-LICENSES.txt).
import { build } from "esbuild";
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

// BIFROST_WEB_OUTDIR: build elsewhere (the test that the committed bundle is up to date).
const outdir = process.env.BIFROST_WEB_OUTDIR ||
  new URL("../src/bifrost/web/static/assets/", import.meta.url).pathname;

const result = await build({
  entryPoints: { app: "src/main.js", style: "src/style.css" },
  bundle: true,
  format: "esm",
  minify: true,
  target: ["es2022"],
  outdir,
  legalComments: "none",
  metafile: true,
  logLevel: "info",
});

const packages = new Set();
for (const input of Object.keys(result.metafile.inputs)) {
  const match = input.match(/node_modules\/((?:@[^/]+\/)?[^/]+)\//);
  if (match) packages.add(match[1]);
}
const notices = [...packages].sort().map((name) => {
  const root = join("node_modules", name);
  const { version, license } = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
  const file = readdirSync(root).find((f) => /^licen[cs]e/i.test(f));
  const text = file ? readFileSync(join(root, file), "utf8").trim() : `License: ${license}`;
  return `${name} ${version}\n\n${text}\n`;
});
writeFileSync(join(outdir, "THIRD-PARTY-LICENSES.txt"),
  `The web app's bundle (app.js) contains these npm packages.\n\n${notices.join("\n---\n\n")}`);
