/*
 * The SHARED messages of the cases service (the *Facts messages in
 * proto/cases.proto) are what leaves a gmina. This test reads their
 * descriptors: no field may be able to carry text. Strings are allowed only
 * under names that hold ids or dates (the service also checks every value
 * at run time); no bytes, no nested messages.
 */
#include "cases.pb-c.h"

#include <criterion/criterion.h>
#include <string.h>

static const ProtobufCMessageDescriptor *const s_facts[] = {
    &koop__cases__household_facts__descriptor, &koop__cases__consent_facts__descriptor,
    &koop__cases__ipw_facts__descriptor,       &koop__cases__member_facts__descriptor,
    &koop__cases__goal_facts__descriptor,      &koop__cases__task_facts__descriptor,
    &koop__cases__meeting_facts__descriptor,   &koop__cases__referral_facts__descriptor,
    &koop__cases__removed_facts__descriptor,   &koop__cases__transfer_facts__descriptor,
};

/* string fields that hold an id */
static const char *const s_id_fields[] = {
    "household", "consent", "ipw", "member", "institution", "goal", "task", "meeting", "referral",
    "service", "provider", "service_provider", "owner_institution", "coordinator_institution",
    "share_with", "institutions", "id", "transfer",
};
/* string fields that hold a date */
static const char *const s_date_fields[] = {"date",   "opened",   "given",    "withdrawn", "due",       "signed",
                                            "closed", "sent",     "accepted", "declined",  "done",      "registered",
                                            "scaling_dates"};
/* string fields that hold a node id (not personal data: a gmina's) */
static const char *const s_node_fields[] = {"from_node", "to_node"};

/* 1 when d is one of the facts messages (facts may hold facts: a transfer's) */
static int
s_is_facts(const ProtobufCMessageDescriptor *d)
{
    for (size_t i = 0; i < sizeof s_facts / sizeof s_facts[0]; i++)
        if (s_facts[i] == d)
            return 1;
    return 0;
}

static int
s_in(const char *name, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(name, list[i]) == 0)
            return 1;
    return 0;
}

Test(cases_schema, shared_facts_cannot_carry_text)
{
    for (size_t m = 0; m < sizeof s_facts / sizeof s_facts[0]; m++) {
        const ProtobufCMessageDescriptor *d = s_facts[m];
        for (unsigned i = 0; i < d->n_fields; i++) {
            const ProtobufCFieldDescriptor *f = &d->fields[i];
            cr_assert(f->type != PROTOBUF_C_TYPE_BYTES, "%s.%s may carry anything", d->name, f->name);
            cr_assert(f->type != PROTOBUF_C_TYPE_MESSAGE || s_is_facts(f->descriptor),
                      "%s.%s may carry anything", d->name, f->name);
            if (f->type == PROTOBUF_C_TYPE_STRING)
                cr_assert(s_in(f->name, s_id_fields, sizeof s_id_fields / sizeof s_id_fields[0]) ||
                              s_in(f->name, s_date_fields, sizeof s_date_fields / sizeof s_date_fields[0]) ||
                              s_in(f->name, s_node_fields, sizeof s_node_fields / sizeof s_node_fields[0]),
                          "%s.%s is a string that is neither an id, a date nor a node", d->name, f->name);
        }
    }
}

/* The fields of the LOCAL records that hold personal data or free text do
 * not exist in any SHARED message under the same name. */
Test(cases_schema, personal_fields_exist_only_in_local_records)
{
    const char *personal[] = {"name", "pesel", "birth", "address", "phone", "relation", "purpose",
                              "description", "title", "topic", "decisions", "note", "reason",
                              "number", "participants_names", "members", "owner", "coordinator"};
    for (size_t m = 0; m < sizeof s_facts / sizeof s_facts[0]; m++)
        for (size_t p = 0; p < sizeof personal / sizeof personal[0]; p++)
            cr_assert_null(protobuf_c_message_descriptor_get_field_by_name(s_facts[m], personal[p]),
                           "%s has a field %s", s_facts[m]->name, personal[p]);
}
