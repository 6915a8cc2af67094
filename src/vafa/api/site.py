"""The assembled API: every app's router mounted on vafa.api's NinjaAPI. The top of the HTTP layer (vafa.urls
serves it); the routers import vafa.api.common, so they are mounted here and not in vafa.api itself."""

from vafa.access.api import router as access
from vafa.api import api
from vafa.catalogue.api import router as catalogue
from vafa.clubs.api import router as clubs
from vafa.ledger.api import router as ledger
from vafa.members.api import router as members
from vafa.members.reports import router as member_reports
from vafa.messaging.api import router as messaging
from vafa.portal.api import router as receipts
from vafa.program.api import router as program
from vafa.purchases.api import router as purchases
from vafa.tenancy.api import router as tenancy
from vafa.vouchers.api import router as vouchers
from vafa.webhooks.api import router as webhooks
from vafa.woocommerce.api import router as woocommerce

for router in (program, members, member_reports, purchases, ledger, tenancy, access, webhooks, woocommerce,
               catalogue, vouchers, clubs, messaging, receipts):
    api.add_router("/", router)
