// Health: database, cache and workers, refreshed every 3 s while shown.
import { h, fill, say } from "../dom.js";
import { getJson } from "../api.js";
import { healthPanels } from "./health-panels.js";

export default {
  id: "health",
  title: "Health",
  mount(root) {
    const status = h("p", { id: "status-line", class: "message" });
    const panels = h("div", { class: "grid", id: "health-panels" });
    fill(root, h("h1", {}, "Health"), status, panels);
    let timer = null;
    let stopped = false;
    const refresh = async () => {
      try {
        const health = await getJson("/api/health");
        say(status, `${health.status} · ${health.mode} mode`, health.status === "ok" ? "ok" : "error");
        status.dataset.status = health.status;
        fill(panels, healthPanels.map((panel) => panel(health, {})));
      } catch (error) {
        say(status, `unreachable: ${error.message}`, "error");
      }
      if (!stopped) timer = setTimeout(refresh, 3000);
    };
    refresh();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  },
};
