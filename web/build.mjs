// Builds the web app into the Python package (src/bifrost/web/static/assets/), where it is
// committed: installing Bifrost never needs Node. `make web` runs this after `npm ci`.
import { build } from "esbuild";

const outdir = new URL("../src/bifrost/web/static/assets/", import.meta.url).pathname;

await build({
  entryPoints: { app: "src/main.js", style: "src/style.css" },
  bundle: true,
  format: "esm",
  minify: true,
  target: ["es2022"],
  outdir,
  legalComments: "linked",
  logLevel: "info",
});
