/* commands_cases.c - koopctl commands served by the cases service. Every one
 * acts for a person (--as), whom the service checks against the case. */
#include "koopctl.h"
#include "cases.pb-c.h"

#define C(noun, verb, method, req, rep, flags, help)                                             \
    {noun, verb, "cases", method, &koop__cases__##req##__descriptor,                               \
     &koop__cases__##rep##__descriptor, (flags) | KC_AS, help}

const kc_command_t kc_cases_commands[] = {
    C("household", "add", "household.add", household_add, household, 0,
      "--name N --size N [--pesel P --birth RRRR-MM-DD --address A --phone T --sex female|male "
      "--target GRUPY --date RRRR-MM-DD]"),
    C("household", "show", "household.show", household_ref, household, 0, "--household ID"),
    C("household", "list", "household.list", household_query, household_list, KC_LIST, "[--text TEKST]"),
    C("household member", "add", "household.member.add", household_member_add, household, 0,
      "--household ID --name N [--pesel P --birth RRRR-MM-DD --sex female|male --relation R --date D]"),
    C("consent", "record", "consent.record", consent_record, consent, 0,
      "--household ID --purpose TEKST [--share-with INSTYTUCJE --date RRRR-MM-DD]"),
    C("consent", "withdraw", "consent.withdraw", consent_withdraw, consent, 0, "--consent ID [--date RRRR-MM-DD]"),
    C("ipw", "open", "ipw.open", ipw_open, ipw, 0, "--household ID --coordinator OSOBA --opened RRRR-MM-DD"),
    C("ipw", "show", "ipw.show", ipw_ref, ipw, 0, "--ipw ID"),
    C("ipw", "list", "ipw.list", ipw_query, ipw_list, KC_LIST,
      "[--status draft|active|suspended|closed --household ID]"),
    C("ipw", "activate", "ipw.activate", ipw_step, ipw, 0, "--ipw ID --date RRRR-MM-DD"),
    C("ipw", "suspend", "ipw.suspend", ipw_step, ipw, 0, "--ipw ID --date RRRR-MM-DD [--reason TEKST]"),
    C("ipw", "resume", "ipw.resume", ipw_step, ipw, 0, "--ipw ID --date RRRR-MM-DD"),
    C("ipw", "review", "ipw.review", ipw_step, ipw, 0, "--ipw ID --date RRRR-MM-DD [--reason TEKST]"),
    C("ipw", "close", "ipw.close", ipw_close, ipw, 0,
      "--ipw ID --date RRRR-MM-DD --outcome success|no_success|discontinued [--reason TEKST]"),
    C("ipw", "timeline", "ipw.timeline", ipw_ref, timeline_list, KC_LIST, "--ipw ID"),
    C("ipw member", "add", "ipw.member.add", member_change, ipw, 0, "--ipw ID --person OSOBA [--date RRRR-MM-DD]"),
    C("ipw member", "remove", "ipw.member.remove", member_change, ipw, 0,
      "--ipw ID --person OSOBA [--date RRRR-MM-DD]"),
    C("goal", "add", "goal.add", goal_add, goal, 0,
      "--ipw ID --area OBSZAR --baseline 0-10 --target 0-10 [--description TEKST --date D]"),
    C("goal", "scale", "goal.scale", goal_scale, goal, 0, "--goal ID --value 0-10 --date RRRR-MM-DD"),
    C("task", "add", "task.add", task_add, task, 0,
      "--ipw ID --owner OSOBA --due RRRR-MM-DD --title TEKST [--goal ID --service ID --date D]"),
    C("task", "start", "task.start", task_step, task, 0, "--task ID [--date RRRR-MM-DD]"),
    C("task", "done", "task.done", task_step, task, 0, "--task ID [--date RRRR-MM-DD]"),
    C("task", "cancel", "task.cancel", task_step, task, 0, "--task ID [--date RRRR-MM-DD --reason TEKST]"),
    C("task", "mine", "task.mine", task_query, task_list, KC_LIST,
      "[--status planned|in_progress|done|cancelled]"),
    C("meeting", "add", "meeting.add", meeting_add, meeting, 0,
      "--ipw ID [--date RRRR-MM-DD --participants OSOBY --topic TEKST --decisions TEKST]"),
    C("referral", "send", "referral.send", referral_send, referral, 0,
      "--ipw ID --service ID [--date RRRR-MM-DD --goal ID --note TEKST]"),
    C("referral", "accept", "referral.accept", referral_step, referral, 0, "--referral ID [--date RRRR-MM-DD]"),
    C("referral", "decline", "referral.decline", referral_step, referral, 0,
      "--referral ID [--date RRRR-MM-DD --reason TEKST]"),
    C("referral", "done", "referral.done", referral_step, referral, 0, "--referral ID [--date RRRR-MM-DD]"),
    C("audit", "show", "audit.show", audit_query, audit_list, KC_LIST, "[--ipw ID --person OSOBA --limit N]"),
};
const size_t kc_cases_ncommands = sizeof kc_cases_commands / sizeof kc_cases_commands[0];
