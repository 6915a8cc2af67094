from django.dispatch import Signal

# Sent by create_business inside its transaction, with `business`: the apps above tenancy give a new business
# what it starts with (program: the starter program) without tenancy importing them. A receiver that raises
# rolls the business back.
business_created = Signal()
