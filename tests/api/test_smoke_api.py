from tests.api.conftest import funded_pair, transfer_body


def test_a_partner_posts_a_transfer_and_sees_the_balances(partner):
    settlement, wallet = funded_pair(partner)
    response = partner.post("/v1/transactions", transfer_body(settlement, wallet, "150.00"))
    assert response.status_code == 201, response.get_json()
    account = partner.get(f"/v1/accounts/{wallet}").get_json()
    assert account["balances"]["posted"] == {"amount": "150.00", "currency": "RUB"}
    assert account["balances"]["available"] == {"amount": "150.00", "currency": "RUB"}


def test_transactions_filter_by_customer_covers_all_their_accounts(partner):
    customer = partner.post(
        "/v1/customers",
        {"external_id": "c-1", "full_name": "Farrukh R", "country": "TJ", "kind": "migrant"},
    ).get_json()
    settlement, other_wallet = funded_pair(partner)
    wallet = partner.post(
        "/v1/accounts",
        {"name": "W", "type": "liability", "currency": "RUB", "customer_id": customer["id"]},
        key=False,
    ).get_json()["id"]
    mine = partner.post("/v1/transactions", transfer_body(settlement, wallet, "5.00")).get_json()
    partner.post("/v1/transactions", transfer_body(settlement, other_wallet, "7.00"))
    listed = partner.get(f"/v1/transactions?customer_id={customer['id']}").get_json()
    assert [t["id"] for t in listed["data"]] == [mine["id"]]
