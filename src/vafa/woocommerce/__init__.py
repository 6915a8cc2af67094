"""WooCommerce (F55): order webhooks from a WooCommerce shop become purchases, refunds become returns."""
