// A sample app written against the npm package's types; `tsc --strict` must accept it
// (and reject the misuse in misuse.ts, see tests/typescript/check.sh).
import {
  init, identify, group, track, page, showSurvey, showChecklist, openHelp, hide, complete, reset, optOut, optIn, on, off,
  setBusy, why, debug, replayDeadLetters, type TouchpointError, type TouchpointEvents,
} from "@touchpoint/widget";

async function main(): Promise<void> {
  const ready: boolean = await init({
    key: "pk_demo",
    endpoint: "https://touchpoint.example.com",
    requestTimeoutMs: 5000,
    theme: { accent: "#0f766e", colorScheme: "auto", position: "left" },
    beforeSend: (event) => {
      if (event.type === "page") return null;
      if (event.type === "track") delete (event.props as Record<string, unknown> | undefined)?.email;
      return event;
    },
  });
  if (!ready) return;
  identify("user_42", { plan: "trial", team_size: 4 }, { userHash: "e699d9e131ee56644bf34100e488ca331f0fdf0b6b23c792d5e4a5c690d06045" });
  group("acme", { name: "Acme", seats: 40, owner: "sam@example.com", region: "eu" });
  const id: string | undefined = track("imported_data", { rows: 120 });
  console.log(id?.length);
  page({ title: "Projects" });
  const onError = (e: TouchpointError): void => console.warn(e.code, e.message, e.eventIds.length);
  on("error", (e) => e.code === "event_rejected" && console.warn(e.eventIds));
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
  setBusy(true);
  setBusy(false);
  const answer = why("nps");
  if (answer.eligible) console.log(answer.show_at_ms);
  else console.log(answer.rule, answer.reason, answer.data?.["days_ago"]);
  debug(true);
  const replayed: number = replayDeadLetters();
  console.log(replayed);
  const payload: TouchpointEvents["checklist:item_completed"] = { checklistId: "c", itemId: "i", rule: "manual" };
  console.log(payload.rule);
}

void main();
