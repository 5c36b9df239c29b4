"""Action input models: billable items, concession types, taxes, stock, suppliers and practitioners' reference
numbers (see `catalog.actions`)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from cliniko_connector.catalog.inputs.base import ActionInput, UpdateInput, optional
from cliniko_connector.catalog.types import (
    AmountString,
    BillableItemId,
    BusinessId,
    ConcessionTypeId,
    NonEmpty,
    PractitionerId,
    PractitionerReferenceNumberId,
    ProductId,
    ProductSupplierId,
    TaxId,
    Text100,
    Text255,
)

ItemType = Literal["Product", "Service", "Other"]
AdjustmentType = Literal["Stock Purchase", "Returned", "Other", "Damaged", "Out of Date", "Item Sold"]
Rate = Annotated[float, Field(ge=0, lt=4_000_000_000)]


class _BillableItemFields(ActionInput):
    name: Text255 = optional()
    item_type: ItemType = optional()
    price: AmountString = optional()
    item_code: Text100 | None = optional()
    tax_id: TaxId = optional()


class BillableItemCreate(_BillableItemFields):
    name: Text255
    item_type: ItemType
    price: AmountString


class BillableItemUpdate(UpdateInput, _BillableItemFields):
    id: BillableItemId


class ConcessionTypeCreate(ActionInput):
    name: Text255


class ConcessionTypeUpdate(UpdateInput):
    id: ConcessionTypeId
    name: Text255 = optional()


class _TaxFields(ActionInput):
    name: Text255 = optional()
    rate: Rate = optional()
    amount: Rate = optional()


class TaxCreate(_TaxFields):
    name: Text255
    rate: Rate


class TaxUpdate(UpdateInput, _TaxFields):
    id: TaxId


class StockAdjustmentCreate(ActionInput):
    """Stock in (`Stock Purchase`, `Returned`, `Other`) or out (`Damaged`, `Out of Date`, `Item Sold`)."""

    product_id: ProductId
    adjustment_type: AdjustmentType
    quantity: Annotated[int, Field(ge=1, lt=4_000_000_000)]
    comment: NonEmpty | None = optional()


class ProductSupplierCreate(ActionInput):
    name: Text255


class ProductSupplierUpdate(UpdateInput):
    id: ProductSupplierId
    name: Text255 = optional()


class _ReferenceNumberFields(ActionInput):
    practitioner_id: PractitionerId = optional()
    business_id: BusinessId = optional()
    name: Text255 | None = optional()
    reference_number: Text255 | None = optional()


class PractitionerReferenceNumberCreate(_ReferenceNumberFields):
    practitioner_id: PractitionerId
    business_id: BusinessId


class PractitionerReferenceNumberUpdate(UpdateInput, _ReferenceNumberFields):
    id: PractitionerReferenceNumberId
