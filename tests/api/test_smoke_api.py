from tests.api.conftest import funded_pair, transfer_body


def test_a_partner_posts_a_transfer_and_sees_the_balances(partner):
    settlement, wallet = funded_pair(partner)
    response = partner.post("/v1/transactions", transfer_body(settlement, wallet, "150.00"))
    assert response.status_code == 201, response.get_json()
    account = partner.get(f"/v1/accounts/{wallet}").get_json()
    assert account["balances"]["posted"] == {"amount": "150.00", "currency": "RUB"}
    assert account["balances"]["available"] == {"amount": "150.00", "currency": "RUB"}
