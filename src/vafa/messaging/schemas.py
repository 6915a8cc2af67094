import datetime as dt

from ninja import Schema
from pydantic import Field

from vafa.core.schemas import StrictSchema as Strict


class QuietHours(Strict):
    start: str = Field(examples=["09:00"], pattern=r"^\d\d:\d\d$")
    end: str = Field(examples=["21:00"], pattern=r"^\d\d:\d\d$")


class Holiday(Strict):
    month: int = Field(ge=1, le=12, description="Jalali month")
    day: int = Field(ge=1, le=31)
    name_fa: str = Field(max_length=60)
    name_en: str = Field("", max_length=60)


class OccasionGift(Strict):
    currency: str | None = Field(None, description="points or gift_credit (with amount)")
    amount: int | None = Field(None, ge=1)
    expiry_days: int | None = Field(None, ge=1, le=3650, description="default: the program's for the currency")
    voucher_definition_id: int | None = Field(None, description="a single-use code of this voucher definition, "
                                                                "instead of credit")


class SettingsIn(Strict):
    sms_provider: str | None = Field(None, description="kavenegar, file, console or none")
    sms_api_key: str | None = Field(None, max_length=200, description="stored encrypted; answered as its last 4 "
                                                                      "characters only")
    sms_sender: str | None = Field(None, max_length=20, description="the advertising line (promotional messages)")
    sms_service_sender: str | None = Field(None, max_length=20, description="the service line (transactional "
                                                                            "and informational messages)")
    price_per_part: int | None = Field(None, ge=0, description="cost of one SMS part, in minor units")
    quiet_hours: QuietHours | None = Field(None, description="promotional messages go only in this window "
                                                             "(business timezone)")
    opt_out_word: str | None = Field(None, max_length=20)
    admin_mobile: str | None = Field(None, max_length=32, description="also told of every gift request")
    email_from: str | None = Field(None, max_length=200)
    disabled_kinds: list[str] | None = Field(None, description="message kinds this business does not send")
    birthday_on: str | None = Field(None, description="day (the birthday) or month (once in the birth month)")
    otp_template: str | None = Field(None, max_length=64, description="Kavenegar verify/lookup template for codes")
    holidays: list[Holiday] | None = Field(None, description="the business calendar's holidays to greet on")
    expiry_reminder_days: int | None = Field(None, ge=0, le=365, description="remind members this many days "
                                             "before their lots expire (default 7; 0: no reminders); a "
                                             "currency's own reminder_days in the program overrides it")
    occasion_gifts: dict[str, dict[str, OccasionGift]] | None = Field(
        None, description="what each greeting grants: {occasion: {tier or \"*\" (any other tier): gift}}; "
                          "occasions: birthday, marriage_anniversary, membership_anniversary, holiday")
    email_channel: str | None = Field(None, description="transactional and informational messages to members "
                                                        "with an email: off (SMS only), also (SMS and email) or "
                                                        "instead (email instead of SMS)")


class SettingsOut(Schema):
    sms_provider: str
    sms_api_key: str
    sms_sender: str
    sms_service_sender: str
    price_per_part: int
    quiet_hours: dict
    opt_out_word: str
    admin_mobile: str
    email_from: str
    disabled_kinds: list[str]
    birthday_on: str
    otp_template: str
    holidays: list[dict]
    expiry_reminder_days: int
    occasion_gifts: dict
    email_channel: str
    inbound_url: str


class TemplateIn(Strict):
    kind: str = Field(examples=["points_earned"])
    language: str = Field(examples=["fa"])
    text: str = Field(max_length=1000, description="variables: {first_name} {amount} {balance} {currency} {date} "
                                                   "{tier} {code} {link} {business} {gift}; empty: back to the default")


class TemplateOut(Schema):
    kind: str
    language: str
    text: str
    customised: bool
    message_class: str = Field(alias="class")


class PreviewIn(Strict):
    kind: str | None = Field(None, description="a template kind; or give `text`")
    text: str | None = Field(None, max_length=1000)
    member_id: int | None = Field(None, description="render for this member (default: sample values)")


class PreviewOut(Schema):
    text: str
    encoding: str
    characters: int
    parts: int
    cost: int


class OtpIn(Strict):
    mobile: str = Field(max_length=32, examples=["09121234567"])
    purpose: str = Field(examples=["join"], description="join, login or purchase")


class OtpRequestIn(OtpIn):
    client_address: str | None = Field(None, max_length=64, examples=["203.0.113.7"],
                                       description="the customer's own IP address, when a server relays codes "
                                                   "for many customers; the per-address limit (20 an hour) then "
                                                   "counts it instead of the caller's address")


class OtpVerifyIn(OtpIn):
    code: str = Field(max_length=8, examples=["12345"])


class OtpOut(Schema):
    mobile: str
    expires_in: int


class VerifiedOut(Schema):
    mobile: str
    verified: bool


class BroadcastIn(Strict):
    audience: dict = Field(default_factory=dict, description="tier, branch (of the last purchase), join_source, "
                           "birth_month, last_purchase_before/after, spend_min/max, points_min/max, has_email")
    text: str = Field("", max_length=1000)
    template: str = Field("", max_length=32)
    promotional: bool = True
    send_at: dt.datetime | None = None
    dry_run: bool = False


class MessageIn(Strict):
    member_id: int
    text: str = Field(min_length=1, max_length=1000)
    channel: str = Field("sms", description="sms or email")
    promotional: bool = False


class OptOutIn(Strict):
    member_id: int
    everything: bool = Field(False, description="also transactional messages (not one-time codes)")
    opted_out: bool = Field(True, description="false opts the member in again")


class MessageOut(Schema):
    id: int
    member_id: int | None
    broadcast_id: int | None
    channel: str
    to: str
    kind: str
    message_class: str
    state: str
    text: str
    parts: int
    cost: int
    provider: str
    provider_message_id: str
    error: str
    attempts: int
    created_at: dt.datetime
    sent_at: dt.datetime | None


class MessagePage(Schema):
    items: list[MessageOut]
    next_cursor: str | None
