// A sample app written against the npm package's types; `tsc --strict` must accept it
// (and reject the misuse in misuse.ts, see tests/typescript/check.sh).
import {
  init, identify, group, track, page, showSurvey, showChecklist, openHelp, hide, complete, reset, optOut, optIn, on, off,
  type TouchpointError, type TouchpointEvents,
} from "@touchpoint/widget";

async function main(): Promise<void> {
  const ready: boolean = await init({
    key: "pk_demo",
    endpoint: "https://touchpoint.example.com",
    requestTimeoutMs: 5000,
    theme: { accent: "#0f766e", colorScheme: "auto", position: "left" },
  });
  if (!ready) return;
  identify("user_42", { plan: "trial", team_size: 4 });
  group("acme", { name: "Acme", seats: 40, owner: "sam@example.com", region: "eu" });
  const id: string | undefined = track("imported_data", { rows: 120 });
  console.log(id?.length);
  page({ title: "Projects" });
  const onError = (e: TouchpointError): void => console.warn(e.code, e.message, e.eventIds.length);
  on("error", onError);
  on("survey:completed", ({ surveyId, endingId, actions }) => {
    for (const a of actions) if (a.action === "offer") console.log(surveyId, endingId, a.code);
  });
  on("cta", ({ name, itemId }) => name === "bookOnboardingCall" && complete(itemId));
  const shown: boolean = await showSurvey("nps");
  if (!shown) showChecklist();
  openHelp("import");
  hide();
  off("error", onError);
  reset();
  optOut();
  optIn();
  const payload: TouchpointEvents["checklist:item_completed"] = { checklistId: "c", itemId: "i", rule: "manual" };
  console.log(payload.rule);
}

void main();
