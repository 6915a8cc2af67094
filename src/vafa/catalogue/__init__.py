"""Gift catalogue (F30): gifts a member asks for with coins, points or wallet credit; operators fulfil, reject
(with a refund) or ship the requests; partner gifts hand out imported codes."""
