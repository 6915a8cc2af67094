"""Error codes in Persian and English, for the API's problem details and the web forms."""

MESSAGES: dict[str, tuple[str, str]] = {
    # code: (fa, en)
    "invalid_input": ("ورودی نامعتبر است", "The input is not valid"),
    "not_found": ("پیدا نشد", "Not found"),
    "conflict": ("تعارض با وضعیت فعلی", "Conflicts with the current state"),
    "forbidden": ("اجازه این کار را ندارید", "You may not do this"),
    "unauthorized": ("کلید یا ورود معتبر لازم است", "A valid key or login is needed"),
    "rate_limited": ("درخواست‌ها بیش از حد مجاز است", "Too many requests"),
    "insufficient_balance": ("موجودی کافی نیست", "Insufficient balance"),
    "idempotency_key_reused": ("این کلید یکتایی برای درخواست دیگری به کار رفته است",
                               "This Idempotency-Key was used for a different request"),
    "already_done": ("این کار قبلاً انجام شده است", "Already done"),
    "purchase_already_reversed": ("این خرید قبلاً کامل برگشت خورده یا لغو شده است",
                                  "This purchase was already fully returned or cancelled"),
    "receipt_exists": ("این شماره رسید در این شعبه ثبت شده است", "This receipt is already registered at this branch"),
    "mobile_taken": ("این شماره موبایل قبلاً عضو شده است", "This mobile number is already a member"),
    "member_not_found": ("عضو پیدا نشد", "Member not found"),
    "purchase_not_found": ("خرید پیدا نشد", "Purchase not found"),
    "card_not_found": ("کارت پیدا نشد", "Card not found"),
    "member_blocked": ("حساب این عضو مسدود است", "This member is blocked"),
    "scope_too_narrow": ("دسترسی این کلید کافی نیست", "The key's scope does not allow this"),
    "owner_only": ("فقط مالک کسب‌وکار می‌تواند", "Only the owner may do this"),
    "branch_not_allowed": ("دسترسی به این شعبه ندارید", "You may not act in this branch"),
    "card_already_replaced": ("این کارت قبلاً جایگزین شده است", "This card was already replaced"),
    "card_not_active": ("کارت فعال نیست", "The card is not active"),
    "card_number_taken": ("این شماره کارت قبلاً صادر شده است", "This card number is already issued"),
    "no_active_program": ("برنامه وفاداری فعالی نیست", "No active program"),
    "body_too_large": ("حجم درخواست بیش از حد است", "The request body is too large"),
    # field messages
    "required": ("لازم است", "is required"),
    "must_be_integer": ("باید عدد صحیح باشد", "must be an integer"),
    "must_not_be_negative": ("نباید منفی باشد", "must not be negative"),
    "must_be_positive": ("باید بزرگ‌تر از صفر باشد", "must be greater than zero"),
    "too_large": ("بیش از حد بزرگ است", "is too large"),
    "too_long": ("بیش از حد طولانی است", "is too long"),
    "not_a_phone": ("شماره تلفن معتبر نیست", "is not a valid phone number"),
    "not_a_mobile": ("شماره موبایل معتبر نیست", "is not a valid mobile number"),
    "not_a_date": ("تاریخ معتبر نیست", "is not a date"),
    "impossible_date": ("چنین تاریخی وجود ندارد", "is not a real date"),
    "date_in_future": ("نباید در آینده باشد", "must not be in the future"),
    "in_the_future": ("نباید در آینده باشد", "must not be in the future"),
    "needs_timezone_offset": ("منطقه زمانی لازم است", "needs a timezone offset"),
    "not_an_email": ("ایمیل معتبر نیست", "is not a valid email"),
    "unknown_choice": ("گزینه نامعتبر", "is not one of the choices"),
    "unknown_field": ("فیلد ناشناخته", "is not a known field"),
    "unknown_branch": ("شعبه ناشناخته", "is not a branch of this business"),
    "no_such_line": ("چنین ردیفی در این خرید نیست", "is not a line of this purchase"),
    "more_than_bought": ("بیش از مقدار خریداری‌شده", "is more than was bought"),
    "more_than_not_yet_returned": ("بیش از مبلغ برگشت‌نخورده", "is more than what is left to return"),
    "more_than_amount_due": ("بیش از مبلغ قابل پرداخت", "is more than the amount due"),
    "less_than_one_step": ("کمتر از یک پله جدول تبدیل", "is less than one step of the loyalty table"),
    "no_loyalty_table_rate": ("نرخ تبدیل امتیاز تعریف نشده", "the program has no conversion rate"),
    "give_amount_or_lines": ("مبلغ یا ردیف‌ها را بدهید", "give an amount or lines"),
    "bad_text": ("متن نامعتبر", "is not valid text"),
    "unknown_referral_code": ("کد معرف پیدا نشد", "is not a member's referral code"),
    "self_referral": ("نمی‌توانید خودتان را معرفی کنید", "cannot refer yourself"),
    "unknown_code": ("کد تخفیف معتبر نیست", "is not a valid discount code"),
    "must_not_be_zero": ("نباید صفر باشد", "must not be zero"),
    "must_be_boolean": ("باید true یا false باشد", "must be true or false"),
    "must_be_text": ("باید متن باشد", "must be text"),
    "must_be_object": ("باید شیء باشد", "must be an object"),
    "must_be_list": ("باید فهرست باشد", "must be a list"),
    "not_json": ("JSON معتبر نیست", "is not valid JSON"),
    "bad_request": ("درخواست نادرست", "Bad request"),
    "branch_code_taken": ("این کد شعبه قبلاً ثبت شده است", "This branch code is already used"),
    "slug_taken": ("این شناسه قبلاً ثبت شده است", "This slug is already used"),
    "too_small": ("کمتر از حداقل مجاز است", "is below the minimum"),
    "not_a_time": ("ساعت معتبر نیست", "is not a time of day"),
    "must_be_number": ("باید عدد باشد", "must be a number"),
    "bad_cursor": ("نشانگر صفحه نامعتبر است", "is not a valid cursor"),
    "bad_check_digit": ("رقم کنترل نادرست است", "has a wrong check digit"),
    "give_phone_card_or_code": ("موبایل، کارت یا کد عضویت را بدهید", "give a phone, card or member code"),
    "not_an_http_url": ("نشانی http یا https معتبر نیست", "is not a valid http or https URL"),
    "unknown_event": ("نوع رویداد ناشناخته است", "is not a known event type"),
    "webhook_not_found": ("وب‌هوک پیدا نشد", "Webhook not found"),
    "webhook_inactive": ("این وب‌هوک غیرفعال است", "This webhook is not active"),
    "woocommerce_connection_not_found": ("اتصال ووکامرس پیدا نشد", "No such WooCommerce connection"),
    "bad_signature": ("امضای وب‌هوک نادرست است یا فرستاده نشده", "The webhook signature is missing or wrong"),
    "not_a_decimal": ("عدد اعشاری معتبر نیست", "is not a decimal number"),
    "not_exact_amount": ("با واحد خرد پول کسب‌وکار دقیق نمی‌شود", "is not a whole number of the currency's minor unit"),
    "not_a_paid_status": ("این وضعیت سفارش پرداخت‌شده نیست", "is not a status of a paid order"),
}


# Pydantic's error types → our message codes, so its errors read in Persian or English like ours.
PYDANTIC_CODES = {
    "missing": "required", "int_type": "must_be_integer", "int_parsing": "must_be_integer",
    "int_from_float": "must_be_integer", "extra_forbidden": "unknown_field", "greater_than_equal": "too_small",
    "greater_than": "too_small", "less_than_equal": "too_large", "less_than": "too_large",
    "string_too_long": "too_long", "too_long": "too_long", "string_too_short": "required", "too_short": "required",
    "datetime_parsing": "not_a_date", "datetime_type": "not_a_date", "datetime_from_date_parsing": "not_a_date",
    "date_parsing": "not_a_date", "date_from_datetime_parsing": "not_a_date", "time_parsing": "not_a_time",
    "bool_type": "must_be_boolean", "bool_parsing": "must_be_boolean", "string_type": "must_be_text",
    "dict_type": "must_be_object", "list_type": "must_be_list", "model_type": "must_be_object",
    "model_attributes_type": "must_be_object", "json_invalid": "not_json", "string_pattern_mismatch": "bad_text",
    "literal_error": "unknown_choice", "union_tag_invalid": "unknown_choice", "enum": "unknown_choice",
    "decimal_parsing": "must_be_number", "float_parsing": "must_be_number",
}


def is_code(text: str) -> bool:
    return text in MESSAGES


def message(code: str, language: str) -> str:
    """The text for a code; a message that is not a code (a sentence from a validator) is returned as it is."""
    pair = MESSAGES.get(code)
    if pair is None:
        return code
    return pair[0] if language == "fa" else pair[1]
