"""Action input models: products (see `catalog.actions`)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from cliniko_connector.catalog.inputs.base import ActionInput, LookupInput, UpdateInput, optional
from cliniko_connector.catalog.types import (
    AmountNumber,
    AmountString,
    NonEmpty,
    ProductId,
    TaxId,
    Text100,
    Text255,
)

# --------------------------------------------------------------------------- products


class _ProductFields(ActionInput):
    name: Text255 = optional()
    item_code: Text100 | None = optional()
    serial_number: Text255 | None = optional()
    price: AmountNumber = optional()
    price_includes_tax: bool | None = optional()
    cost_price: AmountString | None = optional()
    tax_id: TaxId = optional()
    product_supplier_name: Text255 | None = optional()
    notes: NonEmpty | None = optional()


class ProductCreate(_ProductFields):
    name: Text255
    stock_level: Annotated[int, Field(gt=-4_000_000_000, lt=4_000_000_000)] | None = optional()


class ProductUpdate(UpdateInput, _ProductFields):
    """Cliniko doesn't change `stock_level` here (stock adjustments do), so it isn't accepted."""

    id: ProductId


class ProductFind(LookupInput):
    lookup_keys = ("name", "item_code")
    id: ProductId = optional()
    name: Text255 = optional()
    item_code: Text100 = optional()
