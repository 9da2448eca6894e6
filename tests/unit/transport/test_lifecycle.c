#include "fixture.h"
TEST(placeholder) {
}
TEST_MAIN(TEST_ENTRY(placeholder))
